"""projects/rvos_metric_in_mmengine: mmreviosa data and metric in a plain-MMEngine run.

The example is run as its README says, from the repository root, so that
``projects.rvos_metric_in_mmengine.colour_prior`` (listed in the config's
``custom_imports``) is importable.
"""
import json
import os.path as osp
import sys

import cv2
import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'projects', 'rvos_metric_in_mmengine', 'configs',
                  'colour_prior_intershapes.py')
if REPO not in sys.path:
    sys.path.insert(0, REPO)  # what running from the repository root gives

from projects.rvos_metric_in_mmengine.colour_prior import ColourPriorRVOS  # noqa: E402

RED, BLUE, GREY = (225, 35, 35), (40, 75, 235), (120, 118, 125)
# Contract 5 of the InterRVOS metric.
METRIC_KEYS = ('actor_J', 'actor_F', 'actor_JF', 'target_J', 'target_F', 'target_JF',
               'rvos_J', 'rvos_F', 'rvos_JF', 'interaction_acc', 'role_swap_consistency')


class _Sample:
    """The two metainfo fields the model reads, and room for its predictions."""

    def __init__(self, expression, ori_shape):
        self.expression = expression
        self.ori_shape = ori_shape


def _hand_made_frames():
    """Two 5 x 6 frames: grey, a red blob that moves, a blue pixel, near-red and far-red pixels."""
    frames = np.empty((2, 5, 6, 3), np.uint8)
    frames[:] = GREY
    red = np.zeros((2, 5, 6), bool)
    red[0, 1:3, 1:3] = True
    red[1, 2:4, 3:5] = True
    frames[red] = RED
    frames[0, 4, 5] = BLUE
    frames[1, 0, 0] = BLUE
    # Within 60 of red (distance sqrt(3 * 30^2) = 51.96): counted as red.
    frames[0, 0, 5] = (195, 65, 5)
    red[0, 0, 5] = True
    # Just beyond 60 (distance sqrt(3 * 35^2) = 60.62): not red.
    frames[1, 4, 0] = (190, 70, 0)
    return torch.from_numpy(frames).permute(0, 3, 1, 2).contiguous(), red


def test_colour_prior_selects_exactly_the_named_colour():
    frames, red = _hand_made_frames()
    model = ColourPriorRVOS(colours=dict(red=RED, blue=BLUE), nouns=('circle', 'square'),
                            max_distance=60.0)
    samples = [_Sample('the red circle pushing the blue square', (5, 6)),
               _Sample('the blue square being pushed by the red circle', (5, 6)),
               _Sample('the square pushed by the red circle', (5, 6))]
    model(dict(sam_pixels=[frames] * 3), samples, mode='predict')

    assert samples[0].pred_actor_masks.dtype == torch.bool
    np.testing.assert_array_equal(samples[0].pred_actor_masks.numpy(), red)
    blue = np.zeros_like(red)
    blue[0, 4, 5] = blue[1, 0, 0] = True
    np.testing.assert_array_equal(samples[1].pred_actor_masks.numpy(), blue)
    # The only colour word belongs to the object after the subject: nothing is predicted.
    assert not samples[2].pred_actor_masks.any()
    assert samples[2].pred_actor_masks.shape == (2, 5, 6)
    assert all(s.pred_target_masks is None for s in samples)


def test_colour_prior_resizes_masks_to_the_original_shape():
    frames, red = _hand_made_frames()
    model = ColourPriorRVOS(colours=dict(red=RED))
    sample = _Sample('the red star', (10, 12))
    model([dict(sam_pixels=frames)], [sample], mode='predict')
    # Nearest upsampling by 2: each input pixel becomes a 2 x 2 block.
    np.testing.assert_array_equal(sample.pred_actor_masks.numpy(),
                                  red.repeat(2, axis=1).repeat(2, axis=2))


def test_colour_prior_cannot_be_trained():
    frames, _ = _hand_made_frames()
    with pytest.raises(RuntimeError, match='training-free'):
        ColourPriorRVOS()(dict(sam_pixels=[frames]), [_Sample('the red star', (5, 6))],
                          mode='loss')


def test_config_palette_is_the_intershapes_palette():
    from mmengine.config import Config

    from mmreviosa.builders.intershapes import COLORS, SHAPES
    cfg = Config.fromfile(CONFIG)
    assert cfg.default_scope == 'mmengine'
    assert {k: tuple(v) for k, v in cfg.model.colours.items()} == COLORS
    assert set(cfg.model.nouns) == set(SHAPES)


def _decode(rle, shape):
    if rle is None:
        return np.zeros(shape, bool)
    return mask_utils.decode(rle).astype(bool)


def _frame_iou(pred, gt):
    union = np.logical_or(pred, gt).sum()
    return 1.0 if union == 0 else np.logical_and(pred, gt).sum() / union


def _expected_scores(split_dir):
    """Actor, target and RVOS J (percent) of the colour prior, computed directly from the files.

    The subject's colour comes from InterShapes' own expression parser; a pixel
    has it when its squared RGB distance to the fill colour is at most 60^2.
    """
    from mmreviosa.builders.intershapes import COLORS, parse_expression
    with open(osp.join(split_dir, 'meta_expressions.json')) as f:
        videos = json.load(f)['videos']
    with open(osp.join(split_dir, 'mask_dict.json')) as f:
        mask_dict = json.load(f)
    groups = dict(actor=[], target=[], rvos=[])
    for video_id, video in videos.items():
        frames = np.stack([
            cv2.imread(osp.join(split_dir, 'JPEGImages', video_id, f'{name}.jpg'))[..., ::-1]
            for name in video['frames']]).astype(np.int64)
        shape = frames.shape[1:3]

        def union_masks(anno_ids):
            return np.stack([
                np.any([_decode(mask_dict[str(a)][t], shape) for a in anno_ids] or
                       [np.zeros(shape, bool)], axis=0) for t in range(len(frames))])

        for exp in video['expressions'].values():
            colour = parse_expression(exp['exp'])[0]['color']
            if colour is None:
                pred = np.zeros(frames.shape[:3], bool)
            else:
                pred = ((frames - np.array(COLORS[colour])) ** 2).sum(-1) <= 60 ** 2
            actor_j = np.mean([_frame_iou(p, g) for p, g in zip(pred, union_masks(exp['anno_id']))])
            if exp['target_anno_id']:
                gt_target = union_masks(exp['target_anno_id'])
                groups['actor'].append(actor_j)
                # No target is predicted: scored as an empty mask in every frame.
                groups['target'].append(np.mean([_frame_iou(np.zeros_like(g), g)
                                                 for g in gt_target]))
            else:
                groups['rvos'].append(actor_j)
    return {name: 100 * np.mean(values) for name, values in groups.items()}, groups


def test_runner_test_with_mmengine_scope(tmp_path, monkeypatch):
    from mmengine.config import Config
    from mmengine.runner import Runner

    from mmreviosa.builders.intershapes import generate_split
    torch.set_num_threads(1)
    generate_split(str(tmp_path / 'data'), 'test', num_videos=2, seed=0, progress=False)
    split_dir = str(tmp_path / 'data' / 'test')
    monkeypatch.chdir(REPO)
    cfg = Config.fromfile(CONFIG)
    cfg.test_dataloader.dataset.data_root = split_dir
    cfg.work_dir = str(tmp_path / 'work')
    cfg.log_level = 'WARNING'
    metrics = Runner.from_cfg(cfg).test()

    assert set(metrics) == {f'interrvos/{key}' for key in METRIC_KEYS}
    expected, groups = _expected_scores(split_dir)
    assert len(groups['actor']) > 0 and len(groups['rvos']) > 0
    # The colour prior finds the shapes of the named colour...
    assert metrics['interrvos/actor_J'] > 20
    assert metrics['interrvos/actor_J'] == pytest.approx(expected['actor'], abs=1e-9)
    assert metrics['interrvos/rvos_J'] == pytest.approx(expected['rvos'], abs=1e-9)
    # ...but never predicts a target: scored as empty masks against visible targets, J = 0.
    assert expected['target'] == 0.0
    assert metrics['interrvos/target_J'] == 0.0
    assert metrics['interrvos/target_F'] == 0.0
    # Right exactly on the expressions without interaction.
    share_plain = len(groups['rvos']) / (len(groups['rvos']) + len(groups['actor']))
    assert metrics['interrvos/interaction_acc'] == pytest.approx(100 * share_plain)
