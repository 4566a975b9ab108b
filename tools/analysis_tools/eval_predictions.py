"""Score exported predictions against a split, without a model.

Usage::

    python tools/analysis_tools/eval_predictions.py PREDICTIONS SPLIT_ROOT \
        [--workers 4] [--out metrics.json] [--bound-th 0.008]

``PREDICTIONS`` is a folder with ``Annotations/<video>/<exp_id>/{actor,
target}/<frame>.png`` (or the MeViS layout ``Annotations/<video>/<exp_id>/
<frame>.png``, read as actor-only), or a ``predictions.json`` written by
``InterRVOSMetric(output_dir=...)``. ``SPLIT_ROOT`` holds
``meta_expressions.json`` and ``mask_dict.json`` (InterRVOS or MeViS format).

Expressions without a prediction score 0 (J = F = 0 for each role, and a
wrong interaction prediction), with a warning listing them. Bad input stops
the run, before any scoring where it can be found without decoding, with a
one-line error naming the file, video and expression (exit status 2): the
split is checked as ``InterRVOSDataset`` checks it (malformed JSON, a video
without frames, an empty expression, a pair that is not in the video, an
anno id missing from mask_dict or without one RLE per frame, RLEs of
different sizes; see ``mmreviosa.fileio.read_split``), predictions for
missing frames, masks of another frame size, and RLEs whose runs do not
cover their size.
Prints the metric table and, with ``--out``, writes the metrics as flat
JSON (``interrvos/<key>``; null where a group is empty).
"""
import argparse
import json
import logging
import math
import multiprocessing
import sys
from typing import Dict, List, Optional, Tuple

from mmengine.logging import MMLogger, print_log
from tqdm import tqdm

from mmreviosa.evaluation.functional.interrvos_scores import (format_metrics_table,
                                                              missing_expression_score,
                                                              role_swap_iou, score_expression,
                                                              summarize_scores)
from mmreviosa.evaluation.functional.prediction_io import PredictionReader
from mmreviosa.fileio import (SplitAnnotations, annotation_frame_shape, read_split,
                              union_of_annotations)

# Set in each worker (inherited on fork, or by the pool initializer).
_STATE: dict = {}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Score InterRVOS / MeViS predictions against a split.')
    parser.add_argument('predictions',
                        help='PNG folder (with Annotations/) or a '
                        'predictions.json')
    parser.add_argument('split_root',
                        help='folder with meta_expressions.json and '
                        'mask_dict.json')
    parser.add_argument('--workers', type=int, default=1,
                        help='processes scoring expressions (default 1)')
    parser.add_argument('--out', help='write the metrics to this JSON file')
    parser.add_argument('--bound-th', type=float, default=0.008,
                        help='contour accuracy tolerance (DAVIS bound_th)')
    return parser.parse_args(argv)


def _init_worker(reader: PredictionReader, mask_dict: Dict[str, list],
                 mask_path: str, bound_th: float) -> None:
    _STATE['reader'] = reader
    _STATE['mask_dict'] = mask_dict
    _STATE['mask_path'] = mask_path
    _STATE['bound_th'] = bound_th


def _frame_shape(spec: dict, reader: PredictionReader,
                 mask_dict: Dict[str, list]) -> Tuple[int, int]:
    """(H, W) from the annotations, else from the first predicted frame."""
    shape = annotation_frame_shape(mask_dict,
                                   spec['anno_id'] + spec['target_anno_id'])
    if shape is not None:
        return shape
    if reader.videos is not None and reader.has(spec['video_id'],
                                                spec['exp_id']):
        entry = reader.videos[spec['video_id']][spec['exp_id']]
        for rle in entry['actor'] + (entry.get('target') or []):
            if rle is not None:
                return tuple(rle['size'])
    raise ValueError(
        f'video {spec["video_id"]!r} expression {spec["exp_id"]!r}: every '
        'mask is empty, so the frame size is unknown')


def score_spec(spec: dict) -> dict:
    """Score one expression of the split (runs in a worker)."""
    reader: PredictionReader = _STATE['reader']
    mask_dict = _STATE['mask_dict']
    video_id, exp_id = spec['video_id'], spec['exp_id']
    frame_names = spec['frame_names']
    if not reader.has(video_id, exp_id):
        return missing_expression_score(video_id, exp_id, len(frame_names),
                                        spec['has_interaction'],
                                        spec['pair_exp_id'])
    shape = _frame_shape(spec, reader, mask_dict)
    where = f'{_STATE["mask_path"]}: video {video_id} expression {exp_id}'
    gt_actor, gt_target = (
        union_of_annotations([mask_dict[a] for a in anno_ids], anno_ids,
                             range(len(frame_names)), shape, frame_names, where)
        for anno_ids in (spec['anno_id'], spec['target_anno_id']))
    actor, target, _ = reader.load(video_id, exp_id, frame_names, shape)
    score = score_expression(
        video_id,
        exp_id,
        gt_actor,
        gt_target,
        actor,
        target,
        spec['has_interaction'],
        spec['pair_exp_id'],
        num_frames=len(frame_names),
        bound_th=_STATE['bound_th'])
    pair = spec['pair_exp_id']
    if pair is not None and reader.has(video_id, pair):
        pair_prediction = reader.load(video_id, pair, frame_names, shape)
        score['role_swap_iou'] = role_swap_iou(actor, pair_prediction[1],
                                               video_id, exp_id)
    return score


def score_predictions(predictions: str,
                      split: SplitAnnotations,
                      workers: int = 1,
                      bound_th: float = 0.008,
                      progress: bool = True) -> List[dict]:
    """Score every expression of a split, one score per expression.

    Args:
        predictions: PNG folder or prediction JSON.
        split: the split, as :func:`mmreviosa.fileio.read_split` reads it.
        workers: worker processes (1: in this process).
        bound_th: contour accuracy tolerance.
        progress: show a tqdm bar.

    Returns:
        list[dict]: the scores of ``split.expressions``, in their order (see
        ``mmreviosa.evaluation.functional.interrvos_scores``); an expression
        without a prediction scores 0 with ``missing=True``.
    """
    specs = split.expressions
    reader = PredictionReader(predictions)
    # malformed predictions (missing frames) fail now, not halfway through
    for spec in specs:
        reader.check(spec['video_id'], spec['exp_id'], spec['frame_names'])
    init_args = (reader, split.mask_dict, split.mask_path, bound_th)
    bar = dict(total=len(specs), disable=not progress, desc='scoring')
    if workers <= 1:
        _init_worker(*init_args)
        return [score_spec(spec) for spec in tqdm(specs, **bar)]
    with multiprocessing.Pool(workers, _init_worker, init_args) as pool:
        return list(tqdm(pool.imap(score_spec, specs, chunksize=4), **bar))


def evaluate_predictions(predictions: str,
                         split_root: str,
                         workers: int = 1,
                         bound_th: float = 0.008,
                         progress: bool = True) -> Dict[str, float]:
    """Score every expression of a split and summarise.

    Args:
        predictions: PNG folder or prediction JSON.
        split_root: split folder (meta_expressions.json, mask_dict.json).
        workers: worker processes (1: in this process).
        bound_th: contour accuracy tolerance.
        progress: show a tqdm bar.

    Returns:
        dict: the metrics (keys of ``METRIC_KEYS``, percentages).
    """
    logger = MMLogger.get_current_instance()
    # a malformed split fails here, before any prediction is read
    split = read_split(split_root)
    scores = score_predictions(predictions, split, workers, bound_th, progress)
    missing = [(s['video_id'], s['exp_id']) for s in scores if s['missing']]
    if missing:
        print_log(
            f'{len(missing)} of {len(scores)} expressions have no prediction '
            f'in {predictions} and score 0: {missing[:10]}'
            f'{" ..." if len(missing) > 10 else ""}',
            logger=logger,
            level=logging.WARNING)
    metrics = summarize_scores(scores, logger)
    print_log(
        '\n' + format_metrics_table(metrics, len(scores)), logger=logger)
    return metrics


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    MMLogger.get_instance('mmreviosa', log_level='INFO')
    try:
        metrics = evaluate_predictions(args.predictions, args.split_root,
                                       args.workers, args.bound_th)
    except (ValueError, OSError) as err:  # bad input: the message says where
        print(f'error: {err}', file=sys.stderr)
        return 2
    if args.out:
        # nan (a group without expressions) is written as null: valid JSON
        flat = {
            f'interrvos/{key}': None if math.isnan(value) else value
            for key, value in metrics.items()
        }
        with open(args.out, 'w', encoding='utf-8') as file:
            json.dump(flat, file, indent=2)
        print_log(f'metrics written to {args.out}', logger='current')
    return 0


if __name__ == '__main__':
    sys.exit(main())
