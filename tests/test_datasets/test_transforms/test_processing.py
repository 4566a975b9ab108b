"""ResizeForModels, VideoHorizontalFlip and the normalisation constants."""
import numpy as np
import pytest
from PIL import Image

from mmreviosa.datasets.transforms.processing import (ResizeForModels, VideoHorizontalFlip,
                                                      swap_left_right)
from mmreviosa.fileio import IMAGENET_MEAN, IMAGENET_MEAN_255, IMAGENET_STD, IMAGENET_STD_255


def _frames(num=3, height=12, width=20, seed=0):
    return np.random.RandomState(seed).randint(0, 256, (num, height, width, 3), np.uint8)


def test_resize_shapes_dtypes_and_key_frames():
    frames = _frames()
    results = ResizeForModels(mllm_size=8, sam_size=16)(
        dict(frames=frames, key_frame_inds=[2, 0]))
    assert results['sam_pixels'].shape == (3, 3, 16, 16)
    assert results['mllm_pixels'].shape == (2, 3, 8, 8)
    assert results['sam_pixels'].dtype == results['mllm_pixels'].dtype == np.uint8
    # The MLLM reads the key frames (in key_frame_inds order), bicubic like InternVL.
    for row, index in enumerate([2, 0]):
        expected = np.asarray(Image.fromarray(frames[index]).resize((8, 8), Image.BICUBIC))
        np.testing.assert_array_equal(results['mllm_pixels'][row], expected.transpose(2, 0, 1))
    expected = np.asarray(Image.fromarray(frames[1]).resize((16, 16), Image.BILINEAR))
    np.testing.assert_array_equal(results['sam_pixels'][1], expected.transpose(2, 0, 1))
    assert results['frames'] is frames  # the originals stay for the masks / visualisation


def test_resize_of_a_constant_frame_keeps_its_colour():
    frames = np.zeros((1, 10, 30, 3), np.uint8)
    frames[..., 0], frames[..., 1], frames[..., 2] = 10, 120, 250
    for backend in ('pillow', 'cv2'):
        results = ResizeForModels(16, 24, backend=backend)(dict(frames=frames,
                                                                key_frame_inds=[0]))
        assert (results['sam_pixels'][0, :, 5, 5] == [10, 120, 250]).all()
        assert (results['mllm_pixels'][0, :, 3, 3] == [10, 120, 250]).all()


def test_normalisation_constants_are_imagenet():
    assert IMAGENET_MEAN == (0.485, 0.456, 0.406) and IMAGENET_STD == (0.229, 0.224, 0.225)
    np.testing.assert_allclose(IMAGENET_MEAN_255, [255 * m for m in IMAGENET_MEAN], rtol=1e-12)
    np.testing.assert_allclose(IMAGENET_STD_255, [255 * s for s in IMAGENET_STD], rtol=1e-12)


def test_invalid_interpolation_is_rejected():
    with pytest.raises(ValueError, match='interpolation'):
        ResizeForModels(mllm_interpolation='cubic')


@pytest.mark.parametrize('text,expected', [
    ('the ball moving left', 'the ball moving right'),
    ('Left of the box, the rightmost cat', 'Right of the box, the leftmost cat'),
    ('drifting leftwards then rightward', 'drifting rightwards then leftward'),
    ('circling clockwise', 'circling counterclockwise'),
    ('circling counter-clockwise and anticlockwise', 'circling clockwise and clockwise'),
    ('a bright upright leftover', 'a bright upright leftover'),
    ('LEFT', 'RIGHT'),
])
def test_swap_left_right(text, expected):
    assert swap_left_right(text) == expected


def test_flip_mirrors_frames_masks_and_expression():
    frames = _frames(2, 4, 5)
    actor = np.zeros((2, 4, 5), bool)
    actor[:, 1, 0] = True
    target = np.zeros((2, 4, 5), bool)
    target[0, 2, 1] = True
    results = VideoHorizontalFlip(prob=1.0)(dict(
        frames=frames, gt_actor_masks=actor, gt_target_masks=target,
        expression='the box on the left pushing the ball'))
    assert results['flipped'] is True
    np.testing.assert_array_equal(results['frames'][:, :, 4 - np.arange(5)], frames)
    assert results['gt_actor_masks'][:, 1, 4].all() and results['gt_actor_masks'].sum() == 2
    assert results['gt_target_masks'][0, 2, 3] and results['gt_target_masks'].sum() == 1
    assert results['expression'] == 'the box on the right pushing the ball'


def test_flip_with_probability_zero_changes_nothing():
    frames = _frames(1, 4, 5)
    results = VideoHorizontalFlip(prob=0.0)(dict(frames=frames.copy(), expression='left'))
    assert results['flipped'] is False and results['expression'] == 'left'
    np.testing.assert_array_equal(results['frames'], frames)


def test_flip_rate_follows_prob():
    np.random.seed(0)
    flip = VideoHorizontalFlip(prob=0.3)
    flips = [flip(dict(frames=_frames(1, 2, 2), expression='x'))['flipped'] for _ in range(400)]
    assert 0.22 < np.mean(flips) < 0.38
