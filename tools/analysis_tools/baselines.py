"""Score simple non-learned baselines on an InterShapes split with the InterRVOS metrics.

Example::

    python tools/analysis_tools/baselines.py --data-root data/intershapes/test --out baselines.json

Metrics as in the InterRVOS metric: Actor / Target = actor / target masks over
expressions with an interaction, RVOS = actor masks over expressions without
one; per expression the mean of the per-frame J (region similarity) and F
(contour accuracy) over all frames, then the mean over expressions;
J&F = (J + F) / 2; all in percent.

Baselines (each predicts a union of whole ground-truth shape masks):
    empty: no pixel for either role.
    union: every shape of the video, for both roles.
    most_moving: actor = the shape with the largest total centroid
        displacement over the video; target = the second largest.
    appearance_oracle: every shape whose colour / shape / size match the words
        of the actor's noun phrase (target: the target's phrase; no target
        mask when the expression names one shape); blind to motion.
    swapped_roles: the ground-truth objects with actor and target exchanged
        (RVOS keeps the true actor): what a model that finds the participants
        but confuses their roles would score.
"""
import argparse
import json
from typing import Callable, Dict, FrozenSet, List, Optional, Sequence, Tuple

import numpy as np
from terminaltables import AsciiTable

from mmreviosa.builders.intershapes import matching_objects, parse_expression
from mmreviosa.evaluation.functional import contour_accuracy, region_similarity
from mmreviosa.fileio import SplitAnnotations, decode_masks, read_split

METRIC_KEYS = ('actor_J', 'actor_F', 'actor_JF', 'target_J', 'target_F', 'target_JF',
               'rvos_J', 'rvos_F', 'rvos_JF')
ObjSet = FrozenSet[int]


def _most_moving(video: dict, obj_masks: Dict[int, np.ndarray], **_) -> Tuple[ObjSet, ObjSet]:
    travel = {}
    for obj_id, masks in obj_masks.items():
        centroids = [np.argwhere(m).mean(0) if m.any() else None for m in masks]
        travel[obj_id] = sum(float(np.linalg.norm(b - a)) for a, b in zip(centroids, centroids[1:])
                             if a is not None and b is not None)
    ranked = sorted(travel, key=lambda i: (-travel[i], i))
    return frozenset(ranked[:1]), frozenset(ranked[1:2])


def _appearance_oracle(video: dict, exp: dict, **_) -> Tuple[ObjSet, ObjSet]:
    actor_desc, target_desc = parse_expression(exp['expression'])
    target = matching_objects(video['objects'], target_desc) if target_desc else []
    return frozenset(matching_objects(video['objects'], actor_desc)), frozenset(target)


def _swapped_roles(exp: dict, **_) -> Tuple[ObjSet, ObjSet]:
    if not exp['target_obj_id']:
        return frozenset(exp['obj_id']), frozenset()
    return frozenset(exp['target_obj_id']), frozenset(exp['obj_id'])


BASELINES: Dict[str, Callable[..., Tuple[ObjSet, ObjSet]]] = {
    'empty': lambda **_: (frozenset(), frozenset()),
    'union': lambda obj_masks, **_: (frozenset(obj_masks), frozenset(obj_masks)),
    'most_moving': _most_moving,
    'appearance_oracle': _appearance_oracle,
    'swapped_roles': _swapped_roles,
}


def decode_objects(video_id: str, video: dict, mask_dict: dict) -> Dict[int, np.ndarray]:
    """obj_id -> (T, H, W) bool masks of every shape in the video (null frames empty)."""
    if 'objects' not in video:
        raise KeyError(f'Video {video_id} has no "objects" field: baselines need the per-object '
                       f'metadata written by make_intershapes.py')
    num_frames = len(video['frames'])
    rles, anno_ids = {}, {}
    for obj_id, obj in video['objects'].items():
        key = str(obj['anno_id'])
        if key not in mask_dict or len(mask_dict[key]) != num_frames:
            raise KeyError(f'Video {video_id}: anno_id {key} missing from mask_dict or without '
                           f'one entry per frame ({num_frames})')
        rles[int(obj_id)], anno_ids[int(obj_id)] = mask_dict[key], key
    sizes = {tuple(r['size']) for frames in rles.values() for r in frames if r is not None}
    if len(sizes) != 1:
        raise ValueError(f'Video {video_id}: expected one mask size, found {sorted(sizes)}')
    shape = sizes.pop()
    masks = {}
    for obj_id, frames in rles.items():
        try:
            masks[obj_id] = decode_masks(frames, shape, video['frames'])
        except ValueError as err:
            raise ValueError(f'video {video_id} anno id {anno_ids[obj_id]} {err}') from err
    return masks


def baseline_expression_scores(split: SplitAnnotations, names: Optional[Sequence[str]] = None
                               ) -> Dict[str, List[dict]]:
    """Per-expression J and F of each baseline on a split.

    Args:
        split: the split, as :func:`mmreviosa.fileio.read_split` reads it (an
            InterShapes split: videos need their ``objects``).
        names: baselines to score (default: all of ``BASELINES``).

    Returns:
        dict: ``{baseline: [score, ...]}``, one score per expression of
        ``split.expressions``, in their order: ``video_id``, ``exp_id``,
        ``has_interaction``, ``actor_J``, ``actor_F``, ``target_J``,
        ``target_F`` (means over frames in [0, 1]; the target ones None
        without an interaction).
    """
    names = list(names or BASELINES)
    scores: Dict[str, List[dict]] = {name: [] for name in names}
    by_video: Dict[str, list] = {}
    for exp in split.expressions:
        by_video.setdefault(exp['video_id'], []).append(exp)
    for video_id, exps in by_video.items():
        video = split.videos[video_id]
        obj_masks = decode_objects(video_id, video, split.mask_dict)
        any_mask = next(iter(obj_masks.values()))
        cache = {}

        def score(pred: ObjSet, truth: ObjSet) -> Tuple[float, float]:
            # Predictions are unions of whole shapes, so (pred, truth) repeat a lot.
            if (pred, truth) not in cache:
                pred_m, gt_m = (np.logical_or.reduce([obj_masks[i] for i in ids])
                                if ids else np.zeros_like(any_mask) for ids in (pred, truth))
                cache[pred, truth] = (float(np.mean(region_similarity(pred_m, gt_m))),
                                      float(np.mean(contour_accuracy(pred_m, gt_m))))
            return cache[pred, truth]

        for exp in exps:
            unknown = (set(exp['obj_id']) | set(exp['target_obj_id'])) - set(obj_masks)
            if unknown:
                raise KeyError(f'Video {video_id}, expression {exp["exp_id"]}: obj ids '
                               f'{sorted(unknown)} are not in the video\'s "objects"')
            gt_actor, gt_target = frozenset(exp['obj_id']), frozenset(exp['target_obj_id'])
            for name in names:
                actor, target = BASELINES[name](video=video, exp=exp, obj_masks=obj_masks)
                actor_jf = score(actor, gt_actor)
                target_jf = score(target, gt_target) if gt_target else (None, None)
                scores[name].append(dict(
                    video_id=video_id, exp_id=exp['exp_id'], has_interaction=bool(gt_target),
                    actor_J=actor_jf[0], actor_F=actor_jf[1],
                    target_J=target_jf[0], target_F=target_jf[1]))
    return scores


def compute_baselines(data_root: str, names: Optional[Sequence[str]] = None
                      ) -> Dict[str, Dict[str, float]]:
    """Metrics (``METRIC_KEYS``, percent) of each baseline on the split at ``data_root``."""
    # Read and checked as InterRVOSDataset reads them: bad annotations fail here, named.
    split = read_split(data_root)
    results = {}
    for name, exp_scores in baseline_expression_scores(split, names).items():
        by_group = {'actor': [], 'target': [], 'rvos': []}
        for exp_score in exp_scores:
            roles = ((('actor', 'actor'), ('target', 'target')) if exp_score['has_interaction']
                     else (('rvos', 'actor'),))
            for group, role in roles:
                by_group[group].append((exp_score[f'{role}_J'], exp_score[f'{role}_F']))
        row = {}
        for group, values in by_group.items():
            j, f = ((100 * float(np.mean(col)) for col in zip(*values)) if values
                    else (float('nan'), float('nan')))
            row.update({f'{group}_J': j, f'{group}_F': f, f'{group}_JF': (j + f) / 2})
        results[name] = row
    return results


def main():
    parser = argparse.ArgumentParser(description='InterRVOS metrics of simple baselines.')
    parser.add_argument('--data-root', required=True,
                        help='split folder, e.g. data/intershapes/test')
    parser.add_argument('--baselines', nargs='+', choices=sorted(BASELINES), default=None)
    parser.add_argument('--out', help='write the results as JSON {baseline: {metric: value}}')
    args = parser.parse_args()
    results = compute_baselines(args.data_root, args.baselines)
    rows = [['baseline', *METRIC_KEYS]]
    rows += [[name, *(f'{row[k]:.2f}' for k in METRIC_KEYS)] for name, row in results.items()]
    print(AsciiTable(rows, title=f'Baselines on {args.data_root}').table)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=2)


if __name__ == '__main__':
    main()
