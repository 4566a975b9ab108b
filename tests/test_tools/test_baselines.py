"""Tests of tools/analysis_tools/baselines.py on hand-built and generated splits."""
import json
import math
import os.path as osp
import sys

import numpy as np
import pytest

from mmreviosa.fileio import encode_rle, write_annotations
from mmreviosa.testing import REPO_ROOT, load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'baselines.py')


baselines = load_tool(osp.relpath(TOOL, REPO_ROOT))


def _box(top, left, side, size=20):
    mask = np.zeros((size, size), bool)
    mask[top:top + side, left:left + side] = True
    return mask


def _write_split(root, videos, masks):
    write_annotations(str(root), videos, masks)
    return str(root)


def _obj(color, shape, anno_id):
    return dict(color=color, shape=shape, size='big', anno_id=anno_id, motion=None)


@pytest.fixture
def one_shape_split(tmp_path):
    """One red square (8 x 8 px, 3 frames), one expression without interaction."""
    videos = {'v': dict(frames=['00000', '00001', '00002'],
                        objects={'1': _obj('red', 'square', 10)},
                        expressions={'0': dict(exp='the red square', obj_id=[1], anno_id=[10],
                                               target_obj_id=[], target_anno_id=[],
                                               pair_exp_id=None)})}
    masks = {'10': [encode_rle(_box(4, 2 + 3 * t, 8)) for t in range(3)]}
    return _write_split(tmp_path, videos, masks)


@pytest.fixture
def interaction_split(tmp_path):
    """Actor A (red square, 6x6, moves 3 px/frame), target B (blue circle, 2x2, still),
    and C, a still red square 6x6 that looks like A but takes no part."""
    frames = 3
    masks = {'10': [encode_rle(_box(1, 1 + 3 * t, 6)) for t in range(frames)],
             '11': [encode_rle(_box(16, 16, 2))] * frames,
             '12': [encode_rle(_box(12, 1, 6))] * frames}
    objects = {'1': _obj('red', 'square', 10), '2': _obj('blue', 'circle', 11),
               '3': _obj('red', 'square', 12)}
    exps = {'0': dict(exp='the red square pushing the blue circle', obj_id=[1], anno_id=[10],
                      target_obj_id=[2], target_anno_id=[11], pair_exp_id='1'),
            '1': dict(exp='the blue circle being pushed by the red square', obj_id=[2],
                      anno_id=[11], target_obj_id=[1], target_anno_id=[10], pair_exp_id='0')}
    videos = {'v': dict(frames=[f'{t:05d}' for t in range(frames)], objects=objects,
                        expressions=exps)}
    return _write_split(tmp_path, videos, masks)


def test_one_shape_video_empty_scores_zero_and_union_scores_hundred(one_shape_split):
    results = baselines.compute_baselines(one_shape_split)
    assert results['empty']['rvos_J'] == 0 and results['empty']['rvos_F'] == 0
    for name in ('union', 'appearance_oracle', 'most_moving', 'swapped_roles'):
        assert results[name]['rvos_J'] == 100 and results[name]['rvos_F'] == 100, name
    # No interaction expression: Actor / Target are undefined, not zero.
    assert math.isnan(results['union']['actor_J']) and math.isnan(results['union']['target_F'])


def test_interaction_video_matches_hand_computed_values(interaction_split):
    results = baselines.compute_baselines(interaction_split)
    # Both expressions are interactions: each role is A once and B once.
    area_a, area_b, area_c = 36, 4, 36
    union = area_a + area_b + area_c
    expected_union_j = 100 * (area_a / union + area_b / union) / 2
    assert results['union']['actor_J'] == pytest.approx(expected_union_j)
    assert results['union']['target_J'] == pytest.approx(expected_union_j)
    # Most-moving: A (actor), then B over C by the lower obj id (both still): right for
    # expression 0, both roles wrong (disjoint shapes far apart) for expression 1.
    assert results['most_moving']['actor_J'] == pytest.approx(50)
    assert results['most_moving']['actor_F'] == pytest.approx(50)
    # Appearance oracle: "red square" = A and C (J = 36 / 72), "blue circle" = B (J = 1).
    assert results['appearance_oracle']['actor_J'] == pytest.approx(100 * (0.5 + 1) / 2)
    assert results['appearance_oracle']['target_J'] == pytest.approx(100 * (0.5 + 1) / 2)
    assert results['swapped_roles']['actor_J'] == 0 and results['swapped_roles']['target_F'] == 0
    assert results['empty']['target_J'] == 0 and results['empty']['actor_F'] == 0
    for row in results.values():
        assert row['actor_JF'] == pytest.approx((row['actor_J'] + row['actor_F']) / 2)
        assert math.isnan(row['rvos_J'])


def test_missing_object_metadata_is_reported(interaction_split):
    path = osp.join(interaction_split, 'meta_expressions.json')
    with open(path) as f:
        meta = json.load(f)
    del meta['videos']['v']['objects']
    with open(path, 'w') as f:
        json.dump(meta, f)
    with pytest.raises(KeyError, match='Video v has no "objects"'):
        baselines.compute_baselines(interaction_split)


def test_cli_on_a_generated_split_writes_every_metric(tmp_path, monkeypatch, capsys):
    from mmreviosa.builders.intershapes import generate_split
    generate_split(str(tmp_path), 'test', 12, seed=3, progress=False)
    out = tmp_path / 'baselines.json'
    monkeypatch.setattr(sys, 'argv', [TOOL, '--data-root', str(tmp_path / 'test'),
                                      '--out', str(out)])
    baselines.main()
    assert 'appearance_oracle' in capsys.readouterr().out
    results = json.loads(out.read_text())
    assert set(results) == set(baselines.BASELINES)
    for row in results.values():
        assert set(row) == set(baselines.METRIC_KEYS)
    assert results['empty']['actor_J'] == 0
    # Look-alikes make the appearance oracle imperfect but far better than all shapes.
    oracle, union = results['appearance_oracle'], results['union']
    assert union['actor_J'] < oracle['actor_J'] < 100
    assert results['swapped_roles']['rvos_J'] == 100
