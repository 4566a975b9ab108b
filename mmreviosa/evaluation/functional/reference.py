"""Plain full-frame J and F, written directly from the DAVIS-2017 definitions.

This is the slow, obvious implementation (numpy + cv2, no cropping, no bit
packing), one step per line of the definition. It exists to check
:mod:`.davis_measures` and to measure its speed-up; use the functions of
``mmreviosa.evaluation.functional`` for real work.
"""
from typing import Optional, Union

import cv2
import numpy as np



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
    pred = pred.astype(bool)
    gt = gt.astype(bool)
    kept = np.ones_like(gt) if void is None else ~void.astype(bool)
    inter = np.sum(pred & gt & kept, axis=(-2, -1))
    union = np.sum((pred | gt) & kept, axis=(-2, -1))
    with np.errstate(invalid='ignore', divide='ignore'):
        jaccard = inter / union
    jaccard = np.where(union == 0, 1.0, jaccard)
    return float(jaccard) if jaccard.ndim == 0 else jaccard


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
    """Boundary F-measure of one ``(H, W)`` frame (DAVIS ``f_measure``)."""
    kept = np.ones(gt.shape, bool) if void is None else ~void.astype(bool)
    height, width = gt.shape
    radius = bound_th if bound_th >= 1 else np.ceil(
        bound_th * np.sqrt(float(height * height + width * width)))
    kernel = reference_disk(radius)
    pred_boundary = reference_boundary_map(pred.astype(bool) & kept)
    gt_boundary = reference_boundary_map(gt.astype(bool) & kept)
    pred_dilated = cv2.dilate(pred_boundary.astype(np.uint8), kernel)
    gt_dilated = cv2.dilate(gt_boundary.astype(np.uint8), kernel)
    n_pred = int(np.sum(pred_boundary))
    n_gt = int(np.sum(gt_boundary))
    if n_pred == 0 and n_gt > 0:
        precision, recall = 1.0, 0.0
    elif n_pred > 0 and n_gt == 0:
        precision, recall = 0.0, 1.0
    elif n_pred == 0 and n_gt == 0:
        precision, recall = 1.0, 1.0
    else:
        precision = int(np.sum(pred_boundary & (gt_dilated > 0))) / n_pred
        recall = int(np.sum(gt_boundary & (pred_dilated > 0))) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


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
