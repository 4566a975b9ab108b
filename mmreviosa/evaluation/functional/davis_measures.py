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

Why it is faster: every pixel outside the bounding box of ``pred | gt`` (plus
one row and column) is background and its boundary value is known, so the work
is done on that crop; the crops are bit-packed (64 pixels a word) and the disk
dilation is decomposed exactly into one-column growths and row shifts. Counts
are integers, and the only floating-point operations are the final divisions
and the F formula, evaluated in the official order, hence identical results.
"""
import functools
import warnings
from typing import Callable, List, Optional, Tuple, Union

import cv2
import numpy as np

from .packed_masks import (boundary_planes, dilate_disk, num_words_for,
                           pack_planes, popcounts, unpack_plane)

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


@functools.lru_cache(maxsize=None)
def boundary_radius(height: int, width: int, bound_th: float) -> float:
    """Matching radius in pixels, as DAVIS ``f_measure`` computes it.

    Args:
        height: frame height H.
        width: frame width W.
        bound_th: a fraction of the diagonal when below 1, else pixels.

    Returns:
        float: ``bound_th`` if ``bound_th >= 1`` else
        ``ceil(bound_th * sqrt(H**2 + W**2))``.
    """
    if bound_th >= 1:
        return bound_th
    return float(np.ceil(bound_th * np.linalg.norm((height, width))))


@functools.lru_cache(maxsize=None)
def disk_kernel(radius: float) -> np.ndarray:
    """Disk structuring element identical to ``skimage.morphology.disk``.

    Args:
        radius: the radius (integer or not, as in scikit-image).

    Returns:
        np.ndarray: ``(K, K)`` uint8 with 1 where ``x**2 + y**2 <= r**2``
        for the offsets ``arange(-r, r + 1)``; read-only (cached).
    """
    offsets = np.arange(-radius, radius + 1)
    cols, rows = np.meshgrid(offsets, offsets)
    kernel = (cols**2 + rows**2 <= radius**2).astype(np.uint8)
    kernel.setflags(write=False)
    return kernel


@functools.lru_cache(maxsize=None)
def _disk_half_widths(radius: float) -> Optional[Tuple[int, ...]]:
    """Row half-widths of the disk when the packed decomposition applies.

    Returns None for kernels that are not an odd-sized, centred, convex
    disk (e.g. a non-integer radius given as ``bound_th >= 1``), which then
    take the plain ``cv2.dilate`` path.
    """
    kernel = disk_kernel(radius)
    size = kernel.shape[0]
    if size % 2 == 0:
        return None
    centre = size // 2
    half_widths = []
    for row in kernel[centre:]:
        columns = np.flatnonzero(row)
        if columns.size == 0:
            return None
        left, right = centre - columns[0], columns[-1] - centre
        if left != right or columns.size != left + right + 1:
            return None
        half_widths.append(int(left))
    if not np.array_equal(kernel, kernel[::-1]) or any(
            inner < outer
            for inner, outer in zip(half_widths, half_widths[1:])):
        return None
    return tuple(half_widths)


def _occupied_span(any_along: np.ndarray) -> Tuple[int, int]:
    indices = np.flatnonzero(any_along)
    return int(indices[0]), int(indices[-1])


def _crop_box(pred: np.ndarray, gt: np.ndarray) -> Optional[Tuple[slice,
                                                                  slice]]:
    """Bounding box of ``pred | gt`` grown by one row and column, or None.

    Outside this box both masks and both boundary maps are zero, and the
    boundary map inside it is the same as in the full frame (see
    ``boundary_planes``: a boundary pixel only looks one pixel down/right).
    """
    pred_rows = pred.view(np.uint8).max(axis=1) if pred.dtype == np.bool_ \
        else pred.max(axis=1)
    gt_rows = gt.view(np.uint8).max(axis=1) if gt.dtype == np.bool_ \
        else gt.max(axis=1)
    rows = pred_rows | gt_rows
    if not rows.any():
        return None
    top, bottom = _occupied_span(rows)
    band = slice(top, bottom + 1)
    cols = pred[band].any(axis=0) | gt[band].any(axis=0)
    left, right = _occupied_span(cols)
    height, width = pred.shape
    return (slice(max(top - 1, 0), min(bottom + 2, height)),
            slice(max(left - 1, 0), min(right + 2, width)))


def _f_from_counts(n_fg: int, n_gt: int, fg_match: int,
                   gt_match: int) -> float:
    """DAVIS ``f_measure`` precision/recall case analysis and F formula."""
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1.0, 0.0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0.0, 1.0
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1.0, 1.0
    else:
        precision = float(fg_match) / float(n_fg)
        recall = float(gt_match) / float(n_gt)
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


# Frames are measured in batches whose planes all have the largest crop
# size of the batch; this bounds the words of one plane stack (~16 MB).
_MAX_BATCH_WORDS = 1 << 21
_MAX_BATCH_FRAMES = 32


def _batches(boxes: List[Tuple[int, Tuple[slice, slice]]],
             words_per_frame: Callable[[int, int], int]):
    """Split ``(frame, box)`` pairs into runs that fit ``_MAX_BATCH_WORDS``."""
    batch, max_height, max_width = [], 0, 0
    for frame, box in boxes:
        height = max(max_height, box[0].stop - box[0].start)
        width = max(max_width, box[1].stop - box[1].start)
        if batch and (len(batch) == _MAX_BATCH_FRAMES
                      or (len(batch) + 1) * words_per_frame(height, width) >
                      _MAX_BATCH_WORDS):
            yield batch
            batch = []
            height = box[0].stop - box[0].start
            width = box[1].stop - box[1].start
        batch.append((frame, box))
        max_height, max_width = height, width
    if batch:
        yield batch


def _measure_batch(pred: np.ndarray, gt: np.ndarray,
                   void: Optional[np.ndarray],
                   batch: List[Tuple[int, Tuple[slice, slice]]],
                   radius: float, half_widths: Optional[Tuple[int, ...]],
                   jaccard: Optional[np.ndarray],
                   fmeasure: Optional[np.ndarray]) -> None:
    """Fill ``jaccard[t]`` / ``fmeasure[t]`` for the frames of one batch."""
    frames = [frame for frame, _ in batch]
    boxes = [box for _, box in batch]
    num = len(frames)
    heights = np.array([rows.stop - rows.start for rows, _ in boxes])
    widths = np.array([cols.stop - cols.start for _, cols in boxes])
    reach = len(half_widths) - 1 if half_widths else 0
    plane_rows = int(heights.max()) + max(reach, 1)
    num_words = num_words_for(int(widths.max()), reach)
    crops = [pred[t][box] for t, box in batch] + [gt[t][box]
                                                  for t, box in batch]
    planes = pack_planes(crops, plane_rows, num_words)
    if void is not None:
        kept = ~pack_planes([void[t][box] for t, box in batch], plane_rows,
                            num_words)
        planes.reshape(2, num, plane_rows, num_words)[:] &= kept
    by_role = planes.reshape(2, num, plane_rows, num_words)
    if jaccard is not None:
        inter = popcounts(by_role[0] & by_role[1])
        union = popcounts(by_role[0] | by_role[1])
        for i, frame in enumerate(frames):
            jaccard[frame] = 1.0 if union[i] == 0 else (float(inter[i]) /
                                                        float(union[i]))
    if fmeasure is None:
        return
    boundaries = boundary_planes(planes, np.tile(heights, 2),
                                 np.tile(widths, 2))
    counts = popcounts(boundaries)
    n_fg, n_gt = counts[:num], counts[num:]
    matches = np.zeros(2 * num, np.int64)
    if np.any((n_fg > 0) & (n_gt > 0)):
        if half_widths is not None:
            dilated = dilate_disk(boundaries, half_widths)
        else:
            dilated = _dilate_unpacked(boundaries, np.tile(heights, 2),
                                       np.tile(widths, 2), radius)
        # pred boundary against dilated gt, then gt boundary against pred
        dilated = dilated.reshape(2, num, plane_rows, num_words)[::-1]
        matches = popcounts(
            (boundaries.reshape(dilated.shape) & dilated).reshape(
                planes.shape))
    for i, frame in enumerate(frames):
        fmeasure[frame] = _f_from_counts(int(n_fg[i]), int(n_gt[i]),
                                         int(matches[i]),
                                         int(matches[num + i]))


def _dilate_unpacked(boundaries: np.ndarray, heights: np.ndarray,
                     widths: np.ndarray, radius: float) -> np.ndarray:
    """``cv2.dilate`` by the exact kernel, for kernels with no decomposition.

    cv2's default border never contributes to a dilation, and every boundary
    pixel lies in the crop, so dilating each crop alone is exact.
    """
    kernel = disk_kernel(radius)
    dilated = [
        cv2.dilate(unpack_plane(plane, height, width), kernel)
        for plane, height, width in zip(boundaries, heights, widths)
    ]
    return pack_planes(dilated, boundaries.shape[1], boundaries.shape[2])


def _video_measures(pred, gt, void, bound_th: float, need_j: bool,
                    need_f: bool) -> Tuple[Measure, Measure]:
    """J and/or F of ``(H, W)`` or ``(T, H, W)`` masks (nan if not asked)."""
    pred, gt, void = _check_masks(pred, gt, void)
    single_frame = pred.ndim == 2
    if single_frame:
        pred, gt = pred[None], gt[None]
        void = None if void is None else void[None]
    num_frames, height, width = pred.shape
    # frames where both masks are empty keep J = 1 (empty union) and F = 1
    jaccard = np.ones(num_frames) if need_j else None
    fmeasure = np.ones(num_frames) if need_f else None
    radius = boundary_radius(height, width, bound_th)
    half_widths = _disk_half_widths(radius) if need_f else None
    reach = len(half_widths) - 1 if half_widths else 0

    def words_per_frame(crop_height: int, crop_width: int) -> int:
        return 2 * (crop_height + max(reach, 1)) * num_words_for(
            crop_width, reach)

    boxes = [(t, _crop_box(pred[t], gt[t])) for t in range(num_frames)]
    # similar crop shapes share a batch, so little padding is processed
    boxes = sorted(((t, box) for t, box in boxes if box is not None),
                   key=lambda item: (num_words_for(
                       item[1][1].stop - item[1][1].start, reach), item[1][0].
                                     stop - item[1][0].start))
    for batch in _batches(boxes, words_per_frame):
        _measure_batch(pred, gt, void, batch, radius, half_widths, jaccard,
                       fmeasure)
    results = []
    for values in (jaccard, fmeasure):
        if values is None:
            results.append(None)
        else:
            results.append(float(values[0]) if single_frame else values)
    return results[0], results[1]


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
