"""Against a restatement of the official DAVIS-2017 code with scikit-image.

``official_iou`` / ``official_f_measure`` below restate, step by step,
``db_eval_iou`` and ``f_measure`` / ``_seg2bmap`` of
davisvideochallenge/davis2017-evaluation (``davis2017/metrics.py``),
including ``skimage.morphology.disk`` and ``cv2.dilate`` with default border,
so the comparison does not rest on our own reading of the disk or the
dilation border.
"""
import cv2
import numpy as np
import pytest

from mmreviosa.evaluation.functional import disk_kernel, region_and_contour, sequence_statistics

morphology = pytest.importorskip('skimage.morphology')


def official_iou(annotation, segmentation, void_pixels=None):
    annotation = annotation.astype(bool)
    segmentation = segmentation.astype(bool)
    if void_pixels is None:
        void_pixels = np.zeros_like(segmentation)
    else:
        void_pixels = void_pixels.astype(bool)
    inters = np.sum((segmentation & annotation) & np.logical_not(void_pixels),
                    axis=(-2, -1))
    union = np.sum((segmentation | annotation) & np.logical_not(void_pixels),
                   axis=(-2, -1))
    with np.errstate(invalid='ignore', divide='ignore'):
        j = inters / union
    if j.ndim == 0:
        return 1 if np.isclose(union, 0) else j
    j[np.isclose(union, 0)] = 1
    return j


def official_seg2bmap(seg):
    seg = seg.astype(bool)
    seg[seg > 0] = 1
    e = np.zeros_like(seg)
    s = np.zeros_like(seg)
    se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b = seg ^ e | seg ^ s | seg ^ se
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = 0
    return b


def official_f_measure(foreground_mask, gt_mask, void_pixels=None,
                       bound_th=0.008):
    if void_pixels is not None:
        void_pixels = void_pixels.astype(bool)
    else:
        void_pixels = np.zeros_like(foreground_mask).astype(bool)
    bound_pix = bound_th if bound_th >= 1 else \
        np.ceil(bound_th * np.linalg.norm(foreground_mask.shape))
    fg_boundary = official_seg2bmap(foreground_mask *
                                    np.logical_not(void_pixels))
    gt_boundary = official_seg2bmap(gt_mask * np.logical_not(void_pixels))
    kernel = morphology.disk(bound_pix).astype(np.uint8)
    fg_dil = cv2.dilate(fg_boundary.astype(np.uint8), kernel)
    gt_dil = cv2.dilate(gt_boundary.astype(np.uint8), kernel)
    gt_match = gt_boundary * fg_dil
    fg_match = fg_boundary * gt_dil
    n_fg = np.sum(fg_boundary)
    n_gt = np.sum(gt_boundary)
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1, 0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0, 1
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1, 1
    else:
        precision = np.sum(fg_match) / float(n_fg)
        recall = np.sum(gt_match) / float(n_gt)
    if precision + recall == 0:
        return 0
    return 2 * precision * recall / (precision + recall)


def official_statistics(per_frame_values):
    with np.errstate(all='ignore'):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', category=RuntimeWarning)
            mean = np.nanmean(per_frame_values)
            recall = np.nanmean(per_frame_values > 0.5)
            ids = np.round(np.linspace(1, len(per_frame_values), 5) +
                           1e-10) - 1
            ids = ids.astype(np.uint8)
            bins = [per_frame_values[ids[i]:ids[i + 1] + 1] for i in range(4)]
            decay = np.nanmean(bins[0]) - np.nanmean(bins[3])
    return mean, recall, decay


@pytest.mark.parametrize('radius', [1, 2, 2.5, 3, 8.0, 12, 17])
def test_disk_is_scikit_image_disk(radius):
    np.testing.assert_array_equal(disk_kernel(radius),
                                  morphology.disk(radius).astype(np.uint8))


@pytest.mark.parametrize('shape', [(1, 1), (3, 8), (9, 9), (37, 61),
                                   (70, 130), (121, 97)])
@pytest.mark.parametrize('bound_th', [0.008, 0.03, 0.2, 1, 3, 1.5])
def test_random_masks_equal_the_official_functions(shape, bound_th):
    rng = np.random.default_rng(hash((shape, bound_th, 'official')) % 2**32)
    frames = 8
    pred = np.zeros((frames, ) + shape, np.uint8)
    gt = np.zeros_like(pred)
    for t in range(frames):
        for masks in (pred, gt):
            kind = rng.integers(4)
            if kind == 0:
                masks[t] = rng.random(shape) < rng.uniform(0.1, 0.9)
            elif kind == 1:
                top, left = rng.integers(0, shape[0]), rng.integers(0, shape[1])
                masks[t, top:top + rng.integers(1, shape[0] + 1),
                      left:left + rng.integers(1, shape[1] + 1)] = 255
            elif kind == 2:
                masks[t] = 1
    void = (rng.random(pred.shape) < 0.05).astype(np.uint8)
    for void_masks in (None, void):
        j, f = region_and_contour(pred, gt, void_masks, bound_th)
        expected_j = official_iou(gt, pred, void_masks)
        expected_f = np.array([
            official_f_measure(pred[t], gt[t],
                               None if void_masks is None else void_masks[t],
                               bound_th) for t in range(frames)
        ])
        assert np.max(np.abs(j - expected_j)) == 0
        assert np.max(np.abs(f - expected_f)) == 0
        # one frame at a time: scalar results, same values
        for t in range(frames):
            frame_void = None if void_masks is None else void_masks[t]
            single_j, single_f = region_and_contour(pred[t], gt[t],
                                                    frame_void, bound_th)
            assert single_j == official_iou(gt[t], pred[t], frame_void)
            assert single_f == expected_f[t]


@pytest.mark.parametrize('length', [1, 2, 3, 4, 7, 50, 255, 300])
def test_statistics_equal_the_official_db_statistics(length):
    rng = np.random.default_rng(length)
    values = rng.random(length)
    values[rng.random(length) < 0.1] = np.nan
    ours = sequence_statistics(values)
    expected = official_statistics(values)
    np.testing.assert_array_equal(np.array(ours), np.array(expected))
