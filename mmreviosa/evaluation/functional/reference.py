"""Plain full-frame J and F, written directly from the DAVIS-2017 definitions.

This is the slow, obvious implementation (numpy + cv2, no cropping, no bit
packing), following the steps of the official DAVIS-2017 ``db_eval_iou`` and
``f_measure`` one by one on full frames, so that it also runs at about the
official speed. Only the last step, F from the boundary pixel counts
(:func:`.frame_batches.f_from_counts`), is shared with the fast code; the
restatement of the official code in
``tests/test_evaluation/test_functional/test_davis_official.py`` checks that
step independently. It exists to check :mod:`.davis_measures` and to measure
its speed-up; use the functions of ``mmreviosa.evaluation.functional`` for
real work.
"""
from typing import Optional, Union

import cv2
import numpy as np

from .frame_batches import f_from_counts


def reference_disk(radius: float) -> np.ndarray:
    """Disk of offsets ``arange(-r, r + 1)`` with ``x**2 + y**2 <= r**2``."""
    offsets = np.arange(-radius, radius + 1)
    squared = offsets[None, :]**2 + offsets[:, None]**2
    return (squared <= radius**2).astype(np.uint8)


def reference_region_similarity(
        pred: np.ndarray,
        gt: np.ndarray,
        void: Optional[np.ndarray] = None) -> Union[float, np.ndarray]:
    """Jaccard index of ``(H, W)`` or ``(T, H, W)`` masks; 1 on empty union.

    Args:
        pred: predicted masks, any dtype (non-zero = foreground).
        gt: ground-truth masks, same shape.
        void: optional ignored pixels, same shape.

    Returns:
        float | np.ndarray: per frame float64.
    """
    gt = gt.astype(bool)
    pred = pred.astype(bool)
    void = np.zeros_like(pred) if void is None else void.astype(bool)
    kept = np.logical_not(void)
    inter = np.sum((pred & gt) & kept, axis=(-2, -1))
    union = np.sum((pred | gt) & kept, axis=(-2, -1))
    with np.errstate(invalid='ignore', divide='ignore'):
        jaccard = inter / union
    if jaccard.ndim == 0:
        return 1.0 if union == 0 else float(jaccard)
    jaccard[union == 0] = 1.0
    return jaccard


def reference_boundary_map(seg: np.ndarray) -> np.ndarray:
    """One-pixel boundary map of a binary image (DAVIS ``_seg2bmap``).

    A pixel is on the boundary when it differs from its east, south or
    south-east neighbour; on the last row only east is compared, on the last
    column only south, and the bottom-right pixel is never a boundary.

    Args:
        seg: ``(H, W)`` binary image.

    Returns:
        np.ndarray: ``(H, W)`` bool.
    """
    seg = seg.astype(bool)
    # a no-op on a bool image, kept because the official code does it (it
    # costs time in proportion to the foreground, part of its speed profile)
    seg[seg > 0] = 1
    east = np.zeros_like(seg)
    south = np.zeros_like(seg)
    south_east = np.zeros_like(seg)
    east[:, :-1] = seg[:, 1:]
    south[:-1, :] = seg[1:, :]
    south_east[:-1, :-1] = seg[1:, 1:]
    boundary = (seg ^ east) | (seg ^ south) | (seg ^ south_east)
    boundary[-1, :] = seg[-1, :] ^ east[-1, :]
    boundary[:, -1] = seg[:, -1] ^ south[:, -1]
    boundary[-1, -1] = False
    return boundary


def reference_frame_contour_accuracy(pred: np.ndarray,
                                     gt: np.ndarray,
                                     void: Optional[np.ndarray] = None,
                                     bound_th: float = 0.008) -> float:
    """Boundary F-measure of one ``(H, W)`` frame (DAVIS ``f_measure``).

    Every step works on the full frame: boundary maps of the masks with the
    void pixels removed, each dilated by a disk of radius
    ``ceil(bound_th * diagonal)`` (``bound_th`` pixels when >= 1), boundary
    pixels of one mask within the dilated boundary of the other counted.
    """
    void = np.zeros(pred.shape, bool) if void is None else void.astype(bool)
    height, width = pred.shape
    radius = bound_th if bound_th >= 1 else np.ceil(
        bound_th * np.sqrt(float(height * height + width * width)))
    kernel = reference_disk(radius)
    pred_boundary = reference_boundary_map(pred * np.logical_not(void))
    gt_boundary = reference_boundary_map(gt * np.logical_not(void))
    pred_dilated, gt_dilated = (cv2.dilate(boundary.astype(np.uint8), kernel)
                                for boundary in (pred_boundary, gt_boundary))
    return f_from_counts(np.sum(pred_boundary), np.sum(gt_boundary),
                         np.sum(pred_boundary * gt_dilated), np.sum(gt_boundary * pred_dilated))


def reference_contour_accuracy(
        pred: np.ndarray,
        gt: np.ndarray,
        void: Optional[np.ndarray] = None,
        bound_th: float = 0.008) -> Union[float, np.ndarray]:
    """Boundary F-measure of ``(H, W)`` or ``(T, H, W)`` masks.

    Args:
        pred: predicted masks.
        gt: ground-truth masks, same shape.
        void: optional ignored pixels, same shape.
        bound_th: tolerance, fraction of the diagonal (< 1) or pixels.

    Returns:
        float | np.ndarray: per frame float64.
    """
    if pred.ndim == 2:
        return reference_frame_contour_accuracy(pred, gt, void, bound_th)
    return np.array([
        reference_frame_contour_accuracy(
            pred[t], gt[t], None if void is None else void[t], bound_th)
        for t in range(pred.shape[0])
    ], dtype=np.float64)
