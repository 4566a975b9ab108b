"""InterRVOSMetric: groups, interaction accuracy, role swap, errors, export.

Hand-made video (2 frames, 6x8) with three objects A, B, C:

- ``e0`` "A pushing B" (pair ``e1``): predicted exactly, with a target.
- ``e1`` "B pushed by A" (pair ``e0``): actor exact, no target predicted.
- ``e2`` "C moving" (no interaction): actor predicted empty, a target
  predicted although there is none.

Per-expression means: actor J/F of e0 and e1 are 1; target J/F are 1 (e0)
and 0 (e1: empty prediction against a non-empty target, F: P = 1, R = 0);
rvos J/F of e2 are 0. So actor 100/100, target 50/50, rvos 0/0;
interaction right for e0 only: 100/3 %; role swap: e0's actor A against
e1's (empty) target: 0; e1's actor B against e0's target B: 1 -> 50 %.
"""
import io
import json
import logging
import os.path as osp
import random

import numpy as np
import pytest
from interrvos_samples import EXPECTED, FRAMES, SHAPE, A, B, hand_samples, sample
from mmengine.evaluator import Evaluator
from mmengine.logging import MMLogger

from mmreviosa.evaluation.functional.prediction_io import PredictionReader
from mmreviosa.evaluation.metrics.interrvos_metric import InterRVOSMetric
from mmreviosa.registry import METRICS
from mmreviosa.structures.data_sample import InterRVOSDataSample


def evaluate(metric, samples):
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def test_hand_computed_groups():
    metrics = evaluate(InterRVOSMetric(), hand_samples())
    assert set(metrics) == {f'interrvos/{key}' for key in EXPECTED}
    for key, value in EXPECTED.items():
        assert metrics[f'interrvos/{key}'] == pytest.approx(value), key


def test_built_from_the_registry_with_its_prefix():
    metric = METRICS.build(dict(type='InterRVOSMetric', prefix='val'))
    assert 'val/actor_J' in evaluate(metric, hand_samples())


def test_data_samples_through_the_evaluator():
    data_samples = []
    for raw in hand_samples():
        data_sample = InterRVOSDataSample(metainfo={
            key: raw[key]
            for key in ('video_id', 'exp_id', 'expression', 'frame_names',
                        'ori_shape', 'has_interaction', 'pair_exp_id')
        })
        for key in ('gt_actor_masks', 'gt_target_masks', 'pred_actor_masks',
                    'pred_target_masks'):
            setattr(data_sample, key, raw[key])
        data_sample.pred_text = raw['pred_text']
        data_samples.append(data_sample)
    evaluator = Evaluator(InterRVOSMetric())
    evaluator.process(data_samples)
    metrics = evaluator.evaluate(len(data_samples))
    assert metrics['interrvos/target_J'] == pytest.approx(50.0)
    assert metrics['interrvos/role_swap_consistency'] == pytest.approx(50.0)


def test_rank_order_and_duplicates_do_not_change_the_metrics():
    metric = InterRVOSMetric()
    metric.process({}, hand_samples())
    results = list(metric.results)
    reference = metric.compute_metrics(list(results))
    shuffled = results + results[:2]  # padded samples are repeated
    random.Random(0).shuffle(shuffled)
    assert metric.compute_metrics(shuffled) == reference


def test_empty_group_is_nan_with_a_warning_and_na_in_the_table():
    logger = MMLogger.get_current_instance()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    try:
        metrics = evaluate(InterRVOSMetric(), [hand_samples()[2]])
    finally:
        logger.removeHandler(handler)
    assert np.isnan(metrics['interrvos/actor_J'])
    assert np.isnan(metrics['interrvos/target_JF'])
    assert np.isnan(metrics['interrvos/role_swap_consistency'])
    assert metrics['interrvos/rvos_J'] == 0.0
    assert metrics['interrvos/interaction_acc'] == 0.0
    printed = stream.getvalue()
    assert 'no expressions for target_J; it is reported as nan' in printed
    assert '| target | n/a  | n/a  | n/a  |' in printed


def test_prediction_of_another_shape_names_the_expression():
    bad = sample('e7', A, B, A[:, :5], B)
    with pytest.raises(ValueError, match=r"'vid'.*'e7'.*\(2, 5, 8\).*"
                       r'\(2, 6, 8\)'):
        InterRVOSMetric().process({}, [bad])


def test_missing_frames_name_the_expression():
    bad = sample('e8', A, B, A, B)
    bad['frame_names'] = FRAMES + ['00010']
    with pytest.raises(ValueError, match=r"'vid'.*'e8'.*3 frames"):
        InterRVOSMetric().process({}, [bad])


def test_masks_are_kept_only_for_pairs_without_export():
    metric = InterRVOSMetric()
    metric.process({}, hand_samples())
    kept = {result['exp_id']: 'pred_actor_rle' in result
            for result in metric.results}
    assert kept == {'e0': True, 'e1': True, 'e2': False}


def test_export_round_trip(tmp_path):
    out = str(tmp_path / 'export')
    metric = InterRVOSMetric(output_dir=out)
    metrics = evaluate(metric, hand_samples())
    assert metrics['interrvos/actor_J'] == pytest.approx(100.0)
    png = osp.join(out, 'Annotations', 'vid', 'e1', 'actor', '00005.png')
    assert osp.isfile(png)
    assert not osp.exists(osp.join(out, 'Annotations', 'vid', 'e1',
                                   'target'))
    with open(osp.join(out, 'predictions.json')) as file:
        content = json.load(file)
    assert content['videos']['vid']['e0']['frames'] == FRAMES
    assert content['videos']['vid']['e2']['actor'] == [None, None]
    for source in (out, osp.join(out, 'predictions.json')):
        reader = PredictionReader(source)
        for raw in hand_samples():
            actor, target, _ = reader.load('vid', raw['exp_id'], FRAMES,
                                           SHAPE[1:])
            np.testing.assert_array_equal(actor, raw['pred_actor_masks'])
            if raw['pred_target_masks'] is None:
                assert target is None
            else:
                np.testing.assert_array_equal(target,
                                              raw['pred_target_masks'])


def test_format_only_exports_without_ground_truth(tmp_path):
    metric = InterRVOSMetric(output_dir=str(tmp_path), format_only=True)
    samples = hand_samples()
    for raw in samples:
        for key in ('gt_actor_masks', 'gt_target_masks', 'has_interaction'):
            del raw[key]
    assert evaluate(metric, samples) == {}
    assert osp.isfile(tmp_path / 'predictions.json')
    with pytest.raises(ValueError, match='output_dir'):
        InterRVOSMetric(format_only=True)
