"""J and F equal the DAVIS-2017 definitions exactly, edge cases included.

Expected values are worked out by hand on 5x5 frames (radius
``ceil(0.008 * hypot(5, 5)) = 1``: the disk is the 4-neighbour cross), and
random masks are compared with the plain full-frame implementation and, when
scikit-image is installed, with a restatement of the official functions that
uses ``skimage.morphology.disk``.
"""
import numpy as np
import pytest
import torch

from mmreviosa.evaluation.functional import (boundary_radius, contour_accuracy, disk_kernel,
                                             region_and_contour, region_similarity,
                                             sequence_statistics)
from mmreviosa.evaluation.functional.reference import (reference_boundary_map,
                                                       reference_contour_accuracy,
                                                       reference_region_similarity)


def frame(*pixels, shape=(5, 5)):
    mask = np.zeros(shape, bool)
    for y, x in pixels:
        mask[y, x] = True
    return mask


def columns(first, last, shape=(5, 5)):
    mask = np.zeros(shape, bool)
    mask[:, first:last + 1] = True
    return mask


def test_radius_and_disk_match_the_davis_rules():
    assert boundary_radius(5, 5, 0.008) == 1.0
    # 480x854: ceil(0.008 * 979.65...) = 8
    assert boundary_radius(480, 854, 0.008) == 8.0
    assert boundary_radius(480, 854, 3) == 3
    cross = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.uint8)
    np.testing.assert_array_equal(disk_kernel(1.0), cross)
    # radius 2: x^2 + y^2 <= 4 keeps (0, +-2) but not (1, 2)
    assert disk_kernel(2).sum() == 13
    # a non-integer radius gives an even-sized kernel, as in scikit-image
    assert disk_kernel(2.5).shape == (6, 6)


def test_boundary_map_has_no_boundary_on_the_image_border():
    # a single pixel: itself and the three pixels up/left of it
    expected = frame((1, 1), (1, 2), (2, 1), (2, 2))
    np.testing.assert_array_equal(reference_boundary_map(frame((2, 2))),
                                  expected)
    # the bottom-right corner pixel is never a boundary pixel
    expected = frame((3, 3), (3, 4), (4, 3))
    np.testing.assert_array_equal(reference_boundary_map(frame((4, 4))),
                                  expected)
    # left two columns: only column 1, none along the frame border
    np.testing.assert_array_equal(
        reference_boundary_map(columns(0, 1)), columns(1, 1))


@pytest.mark.parametrize(
    'pred, gt, expected_j, expected_f',
    [
        # both empty: J = 1 (empty union) and F = 1
        (frame(), frame(), 1.0, 1.0),
        # one empty: J = 0; F: no predicted boundary -> P = 1, R = 0 -> 0
        (frame(), frame((2, 2)), 0.0, 0.0),
        (frame((2, 2)), frame(), 0.0, 0.0),
        # identical single pixels
        (frame((2, 2)), frame((2, 2)), 1.0, 1.0),
        # neighbouring pixels: disjoint, yet every boundary pixel is within
        # the cross of one of the other mask's (worked out in the docstring)
        (frame((2, 2)), frame((2, 3)), 0.0, 1.0),
        # two apart: half of each boundary matched: P = R = 1/2, F = 1/2
        (frame((2, 1)), frame((2, 3)), 0.0, 0.5),
        # far apart, one pixel in the corner: nothing matched
        (frame((0, 0)), frame((4, 4)), 0.0, 0.0),
        # full frames have no boundary at all
        (np.ones((5, 5), bool), np.ones((5, 5), bool), 1.0, 1.0),
        # full frame against two columns: P = 1 (no boundary), R = 0
        (np.ones((5, 5), bool), columns(0, 1), 10 / 25, 0.0),
        # masks touching the border: boundaries at columns 1 and 2, adjacent
        (columns(0, 2), columns(0, 1), 10 / 15, 1.0),
        # boundaries at columns 1 and 3: two apart, none matched
        (columns(0, 3), columns(0, 1), 10 / 20, 0.0),
        # 2x2 against 2x3 block: J = 4 / 6
        (frame((1, 1), (1, 2), (2, 1), (2, 2)),
         frame((1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)), 4 / 6, 1.0),
    ])
def test_hand_worked_frames(pred, gt, expected_j, expected_f):
    j, f = region_and_contour(pred, gt)
    assert isinstance(j, float) and isinstance(f, float)
    assert j == expected_j
    assert f == expected_f
    assert region_similarity(pred, gt) == expected_j
    assert contour_accuracy(pred, gt) == expected_f
    assert reference_region_similarity(pred, gt) == expected_j
    assert reference_contour_accuracy(pred, gt) == expected_f


def test_one_sided_match_gives_the_harmonic_mean():
    # pred: pixels (2, 1) and (2, 3); gt: pixel (2, 3).
    # pred boundary: {(1,0),(1,1),(2,0),(2,1)} + {(1,2),(1,3),(2,2),(2,3)},
    # gt boundary: the second group. P = 6/8 ((1,0), (2,0) unmatched), R = 1
    pred, gt = frame((2, 1), (2, 3)), frame((2, 3))
    precision, recall = 6 / 8, 1.0
    expected = 2 * precision * recall / (precision + recall)
    assert contour_accuracy(pred, gt) == expected
    assert region_similarity(pred, gt) == 0.5


def test_void_pixels_are_ignored():
    pred, gt, void = np.ones((5, 5), bool), columns(0, 1), columns(2, 4)
    # outside the void both masks are the two left columns
    assert region_similarity(pred, gt, void) == 1.0
    assert contour_accuracy(pred, gt, void) == 1.0
    # everything void: empty union (J = 1), no boundaries (F = 1)
    everything = np.ones((5, 5), bool)
    assert region_and_contour(pred, gt, everything) == (1.0, 1.0)


def test_video_input_gives_per_frame_float64_and_accepts_tensors():
    pred = np.stack([frame((2, 2)), frame(), columns(0, 2)])
    gt = np.stack([frame((2, 2)), frame((1, 1)), columns(0, 1)])
    j, f = region_and_contour(torch.from_numpy(pred), torch.from_numpy(gt))
    assert j.dtype == np.float64 and j.shape == (3, )
    np.testing.assert_array_equal(j, [1.0, 0.0, 10 / 15])
    np.testing.assert_array_equal(f, [1.0, 0.0, 1.0])
    # uint8 masks with 255 for foreground
    np.testing.assert_array_equal(
        contour_accuracy(pred.astype(np.uint8) * 255, gt.astype(np.uint8)),
        f)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match='differs'):
        region_similarity(np.zeros((4, 5), bool), np.zeros((5, 5), bool))
    with pytest.raises(ValueError, match=r'\(H, W\) or \(T, H, W\)'):
        contour_accuracy(np.zeros(5, bool), np.zeros(5, bool))


def random_masks(rng, shape, kind):
    """Random masks of several kinds: noise, blobs, border-touching, empty."""
    if kind == 'noise':
        return rng.random(shape) < rng.uniform(0.05, 0.95)
    if kind == 'empty':
        return np.zeros(shape, bool)
    if kind == 'full':
        return np.ones(shape, bool)
    mask = np.zeros(shape, bool)
    height, width = shape[-2:]
    for _ in range(rng.integers(1, 4)):
        top, left = rng.integers(-3, height), rng.integers(-3, width)
        mask[..., max(top, 0):max(top + rng.integers(1, height + 1), 0),
             max(left, 0):max(left + rng.integers(1, width + 1), 0)] = True
    if kind == 'blob_noise':
        mask ^= rng.random(shape) < 0.02
    return mask


KINDS = ('noise', 'blobs', 'blob_noise', 'empty', 'full')


@pytest.mark.parametrize('shape', [(1, 1), (1, 7), (7, 1), (2, 2), (5, 5),
                                   (13, 29), (31, 17), (64, 64), (65, 130),
                                   (97, 201), (120, 129)])
@pytest.mark.parametrize('bound_th', [0.008, 0.05, 0.2, 2, 2.5])
def test_random_masks_equal_the_reference_exactly(shape, bound_th):
    rng = np.random.default_rng(hash((shape, bound_th)) % 2**32)
    num_frames = 12
    pred = np.stack([
        random_masks(rng, shape, KINDS[rng.integers(len(KINDS))])
        for _ in range(num_frames)
    ])
    gt = np.stack([
        random_masks(rng, shape, KINDS[rng.integers(len(KINDS))])
        for _ in range(num_frames)
    ])
    void = rng.random(pred.shape) < 0.1
    for void_masks in (None, void):
        j, f = region_and_contour(pred, gt, void_masks, bound_th)
        expected_j = reference_region_similarity(pred, gt, void_masks)
        expected_f = reference_contour_accuracy(pred, gt, void_masks,
                                                bound_th)
        assert np.max(np.abs(j - expected_j)) == 0
        assert np.max(np.abs(f - expected_f)) == 0
        np.testing.assert_array_equal(j, expected_j)
        np.testing.assert_array_equal(f, expected_f)


def test_large_frames_with_many_batches_equal_the_reference():
    rng = np.random.default_rng(7)
    shape = (40, 240, 427)  # radius ceil(0.008 * 489.3) = 4; odd width
    gt = np.zeros(shape, bool)
    gt[:, 60:170, 100:300] = True
    pred = np.roll(gt, 3, axis=2) ^ (rng.random(shape) < 0.01)
    pred[::7] = rng.random((6, ) + shape[1:]) < 0.5  # some dense frames
    j, f = region_and_contour(pred, gt)
    np.testing.assert_array_equal(j, reference_region_similarity(pred, gt))
    np.testing.assert_array_equal(f, reference_contour_accuracy(pred, gt))


def test_sequence_statistics_by_hand():
    values = np.array([1.0, 0.2, 0.8, 0.9, 0.4, 0.6])
    mean, recall, decay = sequence_statistics(values)
    assert mean == pytest.approx(3.9 / 6)
    assert recall == pytest.approx(4 / 6)  # 1.0, 0.8, 0.9, 0.6 exceed 0.5
    # bins from round(linspace(1, 6, 5)) - 1 = [0, 1, 3, 4, 5]:
    # first [1.0, 0.2], last [0.4, 0.6]
    assert decay == pytest.approx(0.6 - 0.5)
    assert sequence_statistics(np.array([0.7])) == (0.7, 1.0, 0.0)
