"""DAVIS-2017 region similarity J and contour accuracy F, exact and fast.

The values equal bit for bit those of the official DAVIS-2017 evaluation
(``davis2017/metrics.py``: ``db_eval_iou``, ``db_eval_boundary`` with
``f_measure`` and ``_seg2bmap``; ``skimage.morphology.disk`` structuring
element and ``cv2.dilate`` with its default border), edge cases included:

- J: ``|pred & gt & ~void| / |(pred | gt) & ~void|``, and 1 when that union is
  empty.
- F: boundaries of ``pred & ~void`` and ``gt & ~void`` (``_seg2bmap``: a pixel
  differing from its east, south or south-east neighbour; the image border is
  not a boundary), matched within a disk of radius
  ``ceil(bound_th * ||(H, W)||)`` pixels (``bound_th`` itself when >= 1);
  precision and recall by the official case analysis (both empty: 1, 1;
  one empty: 0 and 1), ``F = 2 * P * R / (P + R)`` or 0.

Why it is faster (see :mod:`.frame_batches` and :mod:`.packed_masks`):
outside the bounding box of ``pred | gt`` (grown by one row and column) both
masks and both boundary maps are background, so each frame is worked on in
that crop; crops are bit-packed (64 pixels a word) and stacked in batches; the
disk dilation is decomposed exactly into horizontal shifts (by doubling) and
row shifts. Counts are integers, and the only floating-point operations are
the final divisions and the F formula, in the official order: identical
results.
"""
import warnings
from typing import Optional, Tuple, Union

import numpy as np

from .disk import boundary_radius, disk_kernel
from .frame_batches import measure_video

__all__ = [
    'region_similarity', 'contour_accuracy', 'region_and_contour',
    'boundary_radius', 'disk_kernel', 'sequence_statistics'
]

ArrayLike = Union[np.ndarray, 'torch.Tensor']  # noqa: F821
Measure = Union[float, np.ndarray]


def _to_numpy(array, name: str) -> np.ndarray:
    """Return a numpy view of an ndarray or a (CPU or device) torch tensor."""
    if hasattr(array, 'detach') and hasattr(array, 'cpu'):
        array = array.detach().cpu().numpy()
    if not isinstance(array, np.ndarray):
        raise TypeError(f'{name} must be a numpy array or a torch tensor, got '
                        f'{type(array).__name__}')
    return array


def _as_binary(array: np.ndarray) -> np.ndarray:
    """Binary view: bool and uint8 arrays as they are, others as ``!= 0``."""
    if array.dtype == np.bool_ or array.dtype == np.uint8:
        return array
    return array != 0


def _check_masks(pred, gt, void) -> Tuple[np.ndarray, np.ndarray,
                                          Optional[np.ndarray]]:
    pred = _as_binary(_to_numpy(pred, 'pred'))
    gt = _as_binary(_to_numpy(gt, 'gt'))
    if pred.shape != gt.shape:
        raise ValueError(f'pred shape {pred.shape} differs from gt shape '
                         f'{gt.shape}')
    if pred.ndim not in (2, 3):
        raise ValueError('masks must be (H, W) or (T, H, W), got shape '
                         f'{pred.shape}')
    if pred.shape[-1] == 0 or pred.shape[-2] == 0:
        raise ValueError(f'masks have an empty frame size: {pred.shape}')
    if void is not None:
        void = _as_binary(_to_numpy(void, 'void'))
        if void.shape != gt.shape:
            raise ValueError(f'void shape {void.shape} differs from gt shape '
                             f'{gt.shape}')
    return pred, gt, void


def _video_measures(pred, gt, void, bound_th: float, need_j: bool,
                    need_f: bool) -> Tuple[Measure, Measure]:
    """J and/or F of ``(H, W)`` or ``(T, H, W)`` masks (None if not asked)."""
    pred, gt, void = _check_masks(pred, gt, void)
    single_frame = pred.ndim == 2
    if single_frame:
        pred, gt = pred[None], gt[None]
        void = None if void is None else void[None]
    radius = boundary_radius(pred.shape[1], pred.shape[2], bound_th)
    results = measure_video(pred, gt, void, radius, need_j, need_f)
    if single_frame:
        results = tuple(None if values is None else float(values[0])
                        for values in results)
    return results


def region_similarity(pred: ArrayLike,
                      gt: ArrayLike,
                      void: Optional[ArrayLike] = None) -> Measure:
    """Region similarity J (Jaccard index), as DAVIS ``db_eval_iou``.

    Args:
        pred: predicted mask(s), ``(H, W)`` or ``(T, H, W)``, bool/uint8 (any
            non-zero value is foreground), numpy array or torch tensor.
        gt: ground-truth mask(s), same shape.
        void: optional pixels to ignore, same shape.

    Returns:
        float | np.ndarray: J of one frame, or ``(T,)`` float64 per frame.
    """
    return _video_measures(pred, gt, void, 0.008, True, False)[0]


def contour_accuracy(pred: ArrayLike,
                     gt: ArrayLike,
                     void: Optional[ArrayLike] = None,
                     bound_th: float = 0.008) -> Measure:
    """Contour accuracy F (boundary F-measure), as DAVIS ``db_eval_boundary``.

    Args:
        pred: predicted mask(s), ``(H, W)`` or ``(T, H, W)``, bool/uint8.
        gt: ground-truth mask(s), same shape.
        void: optional pixels to ignore, same shape.
        bound_th: boundary tolerance, a fraction of the frame diagonal when
            below 1, else pixels.

    Returns:
        float | np.ndarray: F of one frame, or ``(T,)`` float64 per frame.
    """
    return _video_measures(pred, gt, void, bound_th, False, True)[1]


def region_and_contour(
        pred: ArrayLike,
        gt: ArrayLike,
        void: Optional[ArrayLike] = None,
        bound_th: float = 0.008) -> Tuple[Measure, Measure]:
    """J and F together, sharing the crop and packing (faster than both).

    Args and shapes as in :func:`region_similarity` and
    :func:`contour_accuracy`.

    Returns:
        tuple: ``(J, F)``, each a float or a ``(T,)`` float64 array.
    """
    return _video_measures(pred, gt, void, bound_th, True, True)


def sequence_statistics(
        per_frame_values: np.ndarray) -> Tuple[float, float, float]:
    """Mean, recall and decay of per-frame values, as DAVIS ``db_statistics``.

    Recall is the fraction of frames above 0.5; decay is the mean of the
    first of four temporal bins minus that of the last. The bin limits are
    computed, like the official code, as uint8 (so they wrap for sequences of
    more than 256 frames): the result is the official one in every case.

    Args:
        per_frame_values: ``(T,)`` per-frame J or F (nan values are ignored).

    Returns:
        tuple[float, float, float]: mean, recall, decay (nan when undefined).
    """
    values = np.asarray(per_frame_values, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', category=RuntimeWarning)
        mean = np.nanmean(values)
        recall = np.nanmean(values > 0.5)
        limits = np.round(np.linspace(1, len(values), 5) + 1e-10) - 1
        limits = limits.astype(np.uint8)
        bins = [values[limits[i]:limits[i + 1] + 1] for i in range(4)]
        decay = np.nanmean(bins[0]) - np.nanmean(bins[3])
    return float(mean), float(recall), float(decay)
