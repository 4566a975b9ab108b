"""InterShapes files: per-video and per-split generation, and split statistics."""
import os
import os.path as osp
from multiprocessing import Pool
from typing import Dict, Optional, Tuple

import numpy as np

from mmreviosa.fileio import encode_masks, write_annotations, write_jpeg

from .language import INTERACTIONS, build_expressions, matching_objects
from .scene import motion_label, render_video, sample_scene

SPLITS = ('train', 'valid', 'test')
_SPLIT_SEED = {'train': 0, 'valid': 1, 'test': 2}


def split_sizes(num_train_videos: int) -> Dict[str, int]:
    """Number of videos per split for ``--num-videos num_train_videos``."""
    if num_train_videos < 1:
        raise ValueError(f'num_videos must be >= 1, got {num_train_videos}')
    held_out = max(1, int(round(num_train_videos / 10)))
    return {'train': num_train_videos, 'valid': held_out, 'test': held_out}


def generate_video(split: str, index: int, seed: int, frame_size: int = 64,
                   num_frames: int = 8, out_dir: Optional[str] = None
                   ) -> Tuple[str, dict, Dict[str, list]]:
    """Generate one video; write its frames under ``out_dir/JPEGImages`` if given.

    Returns:
        video_id, its ``meta_expressions`` entry, and its ``mask_dict`` items.
    """
    if num_frames < 4 or frame_size < 32:
        raise ValueError(f'Need num_frames >= 4 and frame_size >= 32, got num_frames='
                         f'{num_frames}, frame_size={frame_size}')
    rng = np.random.default_rng([seed, _SPLIT_SEED[split], index])
    video_id = f'{split}_{index:05d}'
    placed, interactions = sample_scene(rng, frame_size, num_frames)
    frames, visible = render_video(placed, rng, frame_size)
    frame_names = [f'{t:05d}' for t in range(num_frames)]
    objects, mask_items = {}, {}
    for obj in sorted(placed, key=lambda o: o['obj_id']):
        anno_id = index * 10 + obj['obj_id']
        objects[str(obj['obj_id'])] = dict(
            color=obj['color'], shape=obj['shape'], size=obj['size'], anno_id=anno_id,
            motion=motion_label(obj['traj'], frame_size))
        mask_items[str(anno_id)] = encode_masks(visible[obj['obj_id']])
    expressions = {}
    for exp_id, exp in enumerate(build_expressions(rng, objects, interactions)):
        pair, actor_ids, target_ids = exp.pop('pair'), exp.pop('obj_id'), exp.pop('target_obj_id')
        expressions[str(exp_id)] = dict(
            exp=exp.pop('exp'), obj_id=actor_ids,
            anno_id=[objects[str(i)]['anno_id'] for i in actor_ids],
            target_obj_id=target_ids,
            target_anno_id=[objects[str(i)]['anno_id'] for i in target_ids],
            pair_exp_id=None if pair is None else str(pair), **exp)
    if out_dir is not None:
        frame_dir = osp.join(out_dir, 'JPEGImages', video_id)
        os.makedirs(frame_dir, exist_ok=True)
        for name, frame in zip(frame_names, frames):
            write_jpeg(osp.join(frame_dir, f'{name}.jpg'), frame)
    entry = dict(frames=frame_names, expressions=expressions, objects=objects,
                 interactions=interactions)
    return video_id, entry, mask_items


def _generate_one(args):
    return generate_video(*args)


def generate_split(out_dir: str, split: str, num_videos: int, seed: int, frame_size: int = 64,
                   num_frames: int = 8, workers: int = 1, progress: bool = True) -> dict:
    """Write one split to ``out_dir/split``; returns its :func:`split_statistics`."""
    if split not in _SPLIT_SEED:
        raise KeyError(f'Unknown split {split!r}; expected one of {SPLITS}')
    split_dir = osp.join(out_dir, split)
    os.makedirs(split_dir, exist_ok=True)
    jobs = [(split, i, seed, frame_size, num_frames, split_dir) for i in range(num_videos)]
    videos, mask_dict = {}, {}
    pool = Pool(workers) if workers > 1 else None
    results = pool.imap(_generate_one, jobs, chunksize=16) if pool else map(_generate_one, jobs)
    if progress:
        from tqdm import tqdm
        results = tqdm(results, total=num_videos, desc=f'InterShapes {split}')
    for video_id, entry, mask_items in results:
        videos[video_id] = entry
        mask_dict.update(mask_items)
    if pool:
        pool.close()
        pool.join()
    write_annotations(split_dir, videos, mask_dict)
    return split_statistics({'videos': videos}, mask_dict)


def generate_intershapes(out: str, num_videos: int, seed: int = 0, frame_size: int = 64,
                         num_frames: int = 8, workers: int = 1, progress: bool = True
                         ) -> Dict[str, dict]:
    """Write train/valid/test under ``out``; ``num_videos`` training videos (see module doc)."""
    return {split: generate_split(out, split, count, seed, frame_size, num_frames, workers,
                                  progress)
            for split, count in split_sizes(num_videos).items()}


def split_statistics(meta: dict, mask_dict: Dict[str, list]) -> dict:
    """Counts and shares of a split, measured from its JSON content.

    Returns:
        dict: ``videos``, ``frames``, ``objects_per_video``,
        ``interactions_per_video``, ``expressions_per_video``,
        ``interaction_share`` (of the expressions), ``ambiguous_interaction_share``
        (interaction expressions where the shapes that match the named looks
        differ from the actor or the target), ``ambiguous_plain_share`` (the
        same for the others), ``one_to_many_share`` (non-interaction
        expressions with several referents), ``hidden_mask_share`` (null
        shape-frames) and ``expressions_per_verb``.
    """
    videos = meta['videos'].values()
    num_videos = max(len(videos), 1)
    inter, plain, ambiguous, plain_ambiguous, many = 0, 0, 0, 0, 0
    per_verb = {verb: 0 for verb in INTERACTIONS}
    for video in videos:
        for exp in video['expressions'].values():
            if exp['target_obj_id']:
                inter += 1
                per_verb[exp['interaction']] += 1
                oracle = (matching_objects(video['objects'], exp['actor_desc']),
                          matching_objects(video['objects'], exp['target_desc']))
                ambiguous += oracle != (sorted(exp['obj_id']), sorted(exp['target_obj_id']))
            else:
                plain += 1
                many += len(exp['obj_id']) > 1
                plain_ambiguous += (matching_objects(video['objects'], exp['actor_desc'])
                                    != sorted(exp['obj_id']))
    masks = [m for rles in mask_dict.values() for m in rles]
    num_exps = max(inter + plain, 1)
    return dict(
        videos=len(videos), frames=sum(len(v['frames']) for v in videos),
        objects_per_video=sum(len(v['objects']) for v in videos) / num_videos,
        interactions_per_video=sum(len(v['interactions']) for v in videos) / num_videos,
        expressions_per_video=(inter + plain) / num_videos,
        interaction_share=inter / num_exps,
        ambiguous_interaction_share=ambiguous / max(inter, 1),
        ambiguous_plain_share=plain_ambiguous / max(plain, 1),
        one_to_many_share=many / max(plain, 1),
        hidden_mask_share=sum(m is None for m in masks) / max(len(masks), 1),
        expressions_per_verb=per_verb)
