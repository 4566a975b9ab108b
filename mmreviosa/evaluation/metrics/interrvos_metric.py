"""The InterRVOS metric: J, F and J&F per role, interaction and role swap."""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log

from mmreviosa.evaluation.functional.interrvos_scores import (deduplicate_scores,
                                                              format_metrics_table, role_swap_iou,
                                                              score_expression, summarize_scores)
from mmreviosa.evaluation.functional.prediction_io import (prediction_json_entry,
                                                           write_prediction_json,
                                                           write_prediction_pngs)
from mmreviosa.fileio import decode_masks, encode_masks
from mmreviosa.registry import METRICS


def _field(sample: dict, name: str, required: bool = True):
    if name in sample:
        return sample[name]
    if required:
        raise KeyError(f'video {sample.get("video_id")!r} expression '
                       f'{sample.get("exp_id")!r}: the data sample has no '
                       f'{name!r} (keys: {sorted(sample)})')
    return None


def _as_numpy(masks) -> Optional[np.ndarray]:
    if masks is None:
        return None
    if hasattr(masks, 'detach'):
        masks = masks.detach().cpu().numpy()
    return np.asarray(masks)


@METRICS.register_module()
class InterRVOSMetric(BaseMetric):
    """Actor / target / RVOS J&F, interaction accuracy and role swap.

    Keys (all percentages, prefixed ``interrvos/``): ``actor_J actor_F
    actor_JF target_J target_F target_JF rvos_J rvos_F rvos_JF
    interaction_acc role_swap_consistency`` (definitions in
    :mod:`mmreviosa.evaluation.functional.interrvos_scores`). J and F are the
    DAVIS-2017 measures, exactly. A group with no expression (e.g. a split
    without interactions has no ``target_*``) is reported as nan with a
    warning, and shown as ``n/a`` in the table.

    ``process`` computes per-frame J and F at once, so a result is small;
    predicted masks are kept (as RLE) only when needed: for the role swap of
    expressions that have a pair, or for the export.

    Args:
        bound_th: contour accuracy tolerance (DAVIS ``bound_th``).
        output_dir: if set, predictions are exported there:
            ``Annotations/<video>/<exp_id>/{actor,target}/<frame>.png``
            (binary 0/255 PNGs, the form of MeViS / Ref-YouTube-VOS
            submissions, with one folder per role) and ``predictions.json``
            (per-frame COCO RLE, ``null`` = empty; see
            :mod:`mmreviosa.evaluation.functional.prediction_io`).
        save_pngs: write the PNG folders when exporting.
        format_only: only export (e.g. a test split without masks): no
            ground truth is read and no metric is computed. Needs
            ``output_dir``.
        collect_device: ``'cpu'`` or ``'gpu'``, for gathering results.
        prefix: key prefix, ``'interrvos'`` by default.
        collect_dir: folder for CPU gathering across ranks.
    """
    default_prefix: Optional[str] = 'interrvos'

    def __init__(self,
                 bound_th: float = 0.008,
                 output_dir: Optional[str] = None,
                 save_pngs: bool = True,
                 format_only: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)
        if format_only and output_dir is None:
            raise ValueError('InterRVOSMetric: format_only=True needs an '
                             'output_dir to export to')
        self.bound_th = bound_th
        self.output_dir = output_dir
        self.save_pngs = save_pngs
        self.format_only = format_only

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Score each (video, expression) sample of a batch.

        Args:
            data_batch: unused.
            data_samples: ``InterRVOSDataSample.to_dict()`` outputs, with
                video_id, exp_id, frame_names, has_interaction, pair_exp_id,
                gt_actor_masks, gt_target_masks (``(T, H, W)`` bool),
                pred_actor_masks, pred_target_masks (or None), pred_text.

        Raises:
            ValueError: predicted and ground-truth shapes differ, or the
                frame count differs from ``frame_names``.
        """
        for sample in data_samples:
            video_id = str(_field(sample, 'video_id'))
            exp_id = str(_field(sample, 'exp_id'))
            frame_names = _field(sample, 'frame_names', required=False)
            pair_exp_id = _field(sample, 'pair_exp_id', required=False)
            pred_actor = _as_numpy(_field(sample, 'pred_actor_masks'))
            pred_target = _as_numpy(
                _field(sample, 'pred_target_masks', required=False))
            if self.format_only and pred_target is not None and \
                    pred_target.shape != pred_actor.shape:
                raise ValueError(
                    f'video {video_id!r} expression {exp_id!r}: predicted '
                    f'target masks have shape {pred_target.shape}, actor '
                    f'masks {pred_actor.shape}')
            if frame_names is not None and len(frame_names) != \
                    pred_actor.shape[0]:
                raise ValueError(
                    f'video {video_id!r} expression {exp_id!r}: '
                    f'{len(frame_names)} frames listed but the predicted '
                    f'actor masks have shape {pred_actor.shape} (T, H, W)')
            if self.format_only:
                result = dict(video_id=video_id, exp_id=exp_id)
            else:
                result = score_expression(
                    video_id,
                    exp_id,
                    # GT masks follow the model's device (data preprocessor)
                    _as_numpy(_field(sample, 'gt_actor_masks')),
                    _as_numpy(_field(sample, 'gt_target_masks', required=False)),
                    pred_actor,
                    pred_target,
                    bool(_field(sample, 'has_interaction')),
                    pair_exp_id,
                    num_frames=None
                    if frame_names is None else len(frame_names),
                    bound_th=self.bound_th)
            if self.output_dir is not None or pair_exp_id is not None:
                result['pred_actor_rle'] = encode_masks(pred_actor)
                result['pred_target_rle'] = None if pred_target is None \
                    else encode_masks(pred_target)
                result['frame_shape'] = tuple(pred_actor.shape[1:])
            if self.output_dir is not None:
                result['frame_names'] = [str(name) for name in (
                    frame_names if frame_names is not None else
                    [f'{t:05d}' for t in range(pred_actor.shape[0])])]
                result['pred_text'] = str(sample.get('pred_text', ''))
            self.results.append(result)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Role swap, summary metrics, table and optional export.

        Args:
            results: the per-expression results of every rank.

        Returns:
            dict: the metric keys (unprefixed); empty with ``format_only``.
        """
        logger = MMLogger.get_current_instance()
        scores = deduplicate_scores(results)
        if self.output_dir is not None:
            self._export(scores, logger)
        if self.format_only:
            return {}
        by_key = {(score['video_id'], score['exp_id']): score
                  for score in scores}
        for score in scores:
            pair = score['pair_exp_id']
            partner = by_key.get((score['video_id'], pair))
            if partner is None or 'pred_target_rle' not in partner:
                continue  # pair not evaluated (or not declared both ways)
            shape = score['frame_shape']
            pair_target = partner['pred_target_rle']
            score['role_swap_iou'] = role_swap_iou(
                decode_masks(score['pred_actor_rle'], shape),
                None if pair_target is None else decode_masks(
                    pair_target, partner['frame_shape']), score['video_id'],
                score['exp_id'])
        metrics = summarize_scores(scores, logger)
        print_log(
            '\n' + format_metrics_table(metrics, len(scores)), logger=logger)
        return metrics

    def _export(self, scores: List[dict], logger: MMLogger) -> None:
        videos: Dict[str, Dict[str, dict]] = {}
        for score in scores:
            shape = score['frame_shape']
            actor = decode_masks(score['pred_actor_rle'], shape)
            target = None if score['pred_target_rle'] is None else \
                decode_masks(score['pred_target_rle'], shape)
            if self.save_pngs:
                write_prediction_pngs(self.output_dir, score['video_id'],
                                      score['exp_id'], score['frame_names'],
                                      actor, target)
            entry = prediction_json_entry(score['frame_names'],
                                          score['pred_actor_rle'],
                                          score['pred_target_rle'],
                                          score['pred_text'])
            videos.setdefault(score['video_id'], {})[score['exp_id']] = entry
        path = osp.join(self.output_dir, 'predictions.json')
        write_prediction_json(path, videos)
        print_log(
            f'InterRVOS: predictions of {len(scores)} expressions exported '
            f'to {self.output_dir}',
            logger=logger)
