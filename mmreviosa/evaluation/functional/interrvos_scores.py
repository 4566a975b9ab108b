"""InterRVOS scores: per-expression J/F and the summary metrics.

Shared by :class:`~mmreviosa.evaluation.metrics.InterRVOSMetric` (online
evaluation) and ``tools/analysis_tools/eval_predictions.py`` (offline), so
both give the same numbers for the same masks.

An expression's score is a plain dict (picklable, small):

- ``video_id``, ``exp_id``, ``pair_exp_id`` (str | None)
- ``has_interaction`` (bool): the ground truth has a target.
- ``pred_has_target`` (bool): the prediction has a target mask (the model
  emitted a target role token).
- ``actor_J``, ``actor_F``: ``(T,)`` float64 per frame.
- ``target_J``, ``target_F``: ``(T,)`` float64, or None without interaction.
- ``role_swap_iou`` (float | None): mean over frames of J between this
  expression's actor prediction and its pair's target prediction, when the
  pair was predicted too.
- ``missing`` (bool): no prediction was found; all J and F are 0.

Summary (contract 5), all percentages: ``actor_*`` over interaction
expressions (actor masks), ``target_*`` over the same expressions (target
masks), ``rvos_*`` over expressions without interaction (actor masks); per
expression the mean over frames, then the mean over expressions, and
``*_JF = (*_J + *_F) / 2``. ``interaction_acc``: share of expressions where
``pred_has_target == has_interaction`` (a missing prediction is wrong).
``role_swap_consistency``: mean of ``role_swap_iou`` where defined.
A group without expressions is reported as nan, with a warning (never as a
number that could pass for a score).
"""
import logging
import math
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.logging import MMLogger, print_log
from terminaltables import AsciiTable

from .davis_measures import region_and_contour, region_similarity

METRIC_KEYS = ('actor_J', 'actor_F', 'actor_JF', 'target_J', 'target_F',
               'target_JF', 'rvos_J', 'rvos_F', 'rvos_JF', 'interaction_acc',
               'role_swap_consistency')
GROUPS = ('actor', 'target', 'rvos')


def _numpy_masks(masks, name: str, video_id: str, exp_id: str) -> np.ndarray:
    if hasattr(masks, 'detach'):
        masks = masks.detach().cpu().numpy()
    masks = np.asarray(masks)
    if masks.ndim != 3:
        raise ValueError(f'video {video_id!r} expression {exp_id!r}: {name} '
                         f'must be (T, H, W), got shape {masks.shape}')
    return masks


def _check_same_shape(pred: np.ndarray, gt: np.ndarray, role: str,
                      video_id: str, exp_id: str) -> None:
    if pred.shape != gt.shape:
        raise ValueError(
            f'video {video_id!r} expression {exp_id!r}: predicted {role} '
            f'masks have shape {tuple(pred.shape)} but the ground truth has '
            f'{tuple(gt.shape)} (T, H, W)')


def score_expression(video_id: str,
                     exp_id: str,
                     gt_actor_masks,
                     gt_target_masks,
                     pred_actor_masks,
                     pred_target_masks,
                     has_interaction: bool,
                     pair_exp_id: Optional[str] = None,
                     num_frames: Optional[int] = None,
                     bound_th: float = 0.008) -> dict:
    """Per-frame J and F of one expression's actor (and target) prediction.

    Args:
        video_id: video id, for messages.
        exp_id: expression id, for messages.
        gt_actor_masks: ``(T, H, W)`` bool ground-truth actor masks.
        gt_target_masks: ``(T, H, W)`` bool ground-truth target masks, or
            None (read only when ``has_interaction``).
        pred_actor_masks: ``(T, H, W)`` predicted actor masks.
        pred_target_masks: ``(T, H, W)`` predicted target masks, or None when
            the prediction has no target (scored as empty masks).
        has_interaction: whether the ground truth has a target.
        pair_exp_id: id of the role-swapped expression, if any.
        num_frames: expected T (e.g. ``len(frame_names)``), checked if given.
        bound_th: contour accuracy tolerance.

    Returns:
        dict: the expression's score (see the module docstring); the role
        swap value is left None.
    """
    gt_actor = _numpy_masks(gt_actor_masks, 'gt_actor_masks', video_id,
                            exp_id)
    pred_actor = _numpy_masks(pred_actor_masks, 'pred_actor_masks', video_id,
                              exp_id)
    if num_frames is not None and gt_actor.shape[0] != num_frames:
        raise ValueError(
            f'video {video_id!r} expression {exp_id!r}: {num_frames} frames '
            f'listed but the ground truth has shape {tuple(gt_actor.shape)}')
    _check_same_shape(pred_actor, gt_actor, 'actor', video_id, exp_id)
    pred_target = None
    if pred_target_masks is not None:
        pred_target = _numpy_masks(pred_target_masks, 'pred_target_masks',
                                   video_id, exp_id)
        _check_same_shape(pred_target, gt_actor, 'target', video_id, exp_id)
    actor_j, actor_f = region_and_contour(pred_actor, gt_actor, None,
                                          bound_th)
    target_j = target_f = None
    if has_interaction:
        if gt_target_masks is None:
            raise ValueError(f'video {video_id!r} expression {exp_id!r} has '
                             'an interaction but no gt_target_masks')
        gt_target = _numpy_masks(gt_target_masks, 'gt_target_masks',
                                 video_id, exp_id)
        _check_same_shape(gt_target, gt_actor, 'ground-truth target',
                          video_id, exp_id)
        scored_target = pred_target if pred_target is not None else \
            np.zeros(gt_target.shape, bool)
        target_j, target_f = region_and_contour(scored_target, gt_target,
                                                None, bound_th)
    return _score_record(video_id, exp_id, pair_exp_id, has_interaction,
                         pred_target is not None, (actor_j, actor_f), (target_j, target_f),
                         missing=False)


def missing_expression_score(video_id: str, exp_id: str, num_frames: int,
                             has_interaction: bool,
                             pair_exp_id: Optional[str] = None) -> dict:
    """The score of an expression that has no prediction: J = F = 0.

    Args:
        video_id: video id.
        exp_id: expression id.
        num_frames: T.
        has_interaction: whether the ground truth has a target.
        pair_exp_id: id of the role-swapped expression, if any.

    Returns:
        dict: a score with zeros for every frame and role, ``missing=True``.
    """
    zeros = np.zeros(num_frames)
    target = (zeros, zeros) if has_interaction else (None, None)
    return _score_record(video_id, exp_id, pair_exp_id, has_interaction, False, (zeros, zeros),
                         target, missing=True)


def _score_record(video_id: str, exp_id: str, pair_exp_id: Optional[str],
                  has_interaction: bool, pred_has_target: bool, actor_jf: tuple,
                  target_jf: tuple, missing: bool) -> dict:
    """The result of one expression, as :func:`summarize_scores` reads it.

    ``actor_jf`` / ``target_jf`` are the per-frame J and F arrays ``(T,)``
    (None for the target of an expression without an interaction).
    """
    return {'video_id': str(video_id), 'exp_id': str(exp_id),
            'pair_exp_id': None if pair_exp_id is None else str(pair_exp_id),
            'has_interaction': bool(has_interaction), 'pred_has_target': pred_has_target,
            'actor_J': actor_jf[0], 'actor_F': actor_jf[1],
            'target_J': target_jf[0], 'target_F': target_jf[1],
            'role_swap_iou': None, 'missing': missing}


def role_swap_iou(actor_masks, pair_target_masks, video_id: str = '?',
                  exp_id: str = '?') -> float:
    """Mean over frames of J between an actor and the pair's target masks.

    Args:
        actor_masks: ``(T, H, W)`` predicted actor masks of an expression.
        pair_target_masks: ``(T, H, W)`` predicted target masks of its
            role-swapped pair, or None (scored as empty masks).
        video_id: video id, for messages.
        exp_id: expression id, for messages.

    Returns:
        float: in [0, 1].
    """
    actor = _numpy_masks(actor_masks, 'actor masks', video_id, exp_id)
    if pair_target_masks is None:
        pair_target = np.zeros(actor.shape, bool)
    else:
        pair_target = _numpy_masks(pair_target_masks, 'pair target masks',
                                   video_id, exp_id)
    if pair_target.shape != actor.shape:
        raise ValueError(
            f'video {video_id!r} expression {exp_id!r}: role swap of actor '
            f'masks of shape {tuple(actor.shape)} with the pair\'s target '
            f'masks of shape {tuple(pair_target.shape)}')
    return float(np.mean(region_similarity(pair_target, actor)))


def deduplicate_scores(scores: Iterable[dict]) -> List[dict]:
    """One score per ``(video_id, exp_id)``, sorted by that key.

    Samplers pad the last batch with repeated samples, and results gathered
    from several ranks arrive in any order: sorting makes every sum run in
    the same order, so the metrics do not depend on the number of ranks.
    """
    unique: Dict[Tuple[str, str], dict] = {}
    for score in scores:
        unique.setdefault((score['video_id'], score['exp_id']), score)
    return [unique[key] for key in sorted(unique)]


def _group_mean(values: Sequence[float], name: str,
                logger: MMLogger) -> float:
    if len(values) == 0:
        print_log(
            f'InterRVOS: no expressions for {name}; it is reported as nan',
            logger=logger,
            level=logging.WARNING)
        return float('nan')
    return float(np.mean(values)) * 100


def summarize_scores(scores: Iterable[dict],
                     logger: Optional[MMLogger] = None) -> Dict[str, float]:
    """The InterRVOS metrics (percentages) from per-expression scores.

    Args:
        scores: per-expression scores (duplicates are dropped).
        logger: where warnings go (the current MMLogger by default).

    Returns:
        dict: the keys of :data:`METRIC_KEYS`; nan where a group is empty.
    """
    logger = logger or MMLogger.get_current_instance()
    scores = deduplicate_scores(scores)
    per_group: Dict[str, Dict[str, List[float]]] = {
        group: {'J': [], 'F': []}
        for group in GROUPS
    }
    for score in scores:
        if score['has_interaction']:
            roles = (('actor', 'actor'), ('target', 'target'))
        else:
            roles = (('rvos', 'actor'), )
        for group, role in roles:
            per_group[group]['J'].append(float(np.mean(score[f'{role}_J'])))
            per_group[group]['F'].append(float(np.mean(score[f'{role}_F'])))
    metrics: Dict[str, float] = {}
    for group in GROUPS:
        for measure in ('J', 'F'):
            metrics[f'{group}_{measure}'] = _group_mean(
                per_group[group][measure], f'{group}_{measure}', logger)
        metrics[f'{group}_JF'] = (metrics[f'{group}_J'] +
                                  metrics[f'{group}_F']) / 2
    metrics['interaction_acc'] = _group_mean(
        [(not score['missing'])
         and score['pred_has_target'] == score['has_interaction']
         for score in scores], 'interaction_acc', logger)
    metrics['role_swap_consistency'] = _group_mean(
        [
            score['role_swap_iou'] for score in scores
            if score['role_swap_iou'] is not None
        ], 'role_swap_consistency (no expression with a predicted pair)',
        logger)
    return {key: metrics[key] for key in METRIC_KEYS}


def _cell(value: float) -> str:
    return 'n/a' if math.isnan(value) else f'{value:.2f}'


def format_metrics_table(metrics: Dict[str, float],
                         num_expressions: Optional[int] = None) -> str:
    """Render the metrics as terminal tables (nan shown as ``n/a``).

    Args:
        metrics: keys of :data:`METRIC_KEYS` (any prefix already removed).
        num_expressions: shown in the title when given.

    Returns:
        str: two tables, J/F/J&F per group and the interaction metrics.
    """
    title = 'InterRVOS' if num_expressions is None else \
        f'InterRVOS ({num_expressions} expressions)'
    rows = [['group', 'J', 'F', 'J&F']]
    for group in GROUPS:
        rows.append([group] + [
            _cell(metrics[f'{group}_{measure}'])
            for measure in ('J', 'F', 'JF')
        ])
    group_table = AsciiTable(rows, title)
    other_table = AsciiTable(
        [['metric', 'value'],
         ['interaction_acc',
          _cell(metrics['interaction_acc'])],
         ['role_swap_consistency',
          _cell(metrics['role_swap_consistency'])]])
    return group_table.table + '\n' + other_table.table
