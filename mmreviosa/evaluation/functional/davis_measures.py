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
from typing import Iterator, List, NamedTuple, Optional, Tuple, Union

import cv2
import numpy as np

from .packed_masks import (WORD_BITS, boundary_planes, dilate_disk, num_words_for, pack_frames,
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


class _Crop(NamedTuple):
    """Where one frame's work happens: pixel rows, byte columns, width."""
    frame: int
    rows: slice
    bytes: slice
    width: int


def _crop_boxes(union_words: np.ndarray, frame_width: int) -> List[_Crop]:
    """Byte-aligned bounding boxes of ``pred | gt``, one row/column grown.

    Outside the box both masks are background, so neither boundary map has a
    pixel there: a boundary pixel differs from a neighbour one pixel down or
    right, hence lies in the bounding box grown by one row and column up and
    left. The box also keeps one background row and column below and right
    (or reaches the frame border), so that the last-row / last-column rule of
    ``_seg2bmap`` gives the same values inside the box as in the frame.
    Frames where both masks are empty get no box.

    Args:
        union_words: ``(n, H, num_words)`` packed ``pred | gt``.
        frame_width: W.

    Returns:
        list[_Crop]: one per non-empty frame; columns in bytes of 8 pixels.
    """
    num_frames, height, num_words = union_words.shape
    occupied_rows = union_words.any(axis=2)
    crops = []
    for frame in range(num_frames):
        rows = np.flatnonzero(occupied_rows[frame])
        if rows.size == 0:
            continue
        top, bottom = int(rows[0]), int(rows[-1])
        columns = np.bitwise_or.reduce(union_words[frame, top:bottom + 1],
                                       axis=0)
        occupied_words = np.flatnonzero(columns)
        first, last = int(occupied_words[0]), int(occupied_words[-1])
        first_bits, last_bits = int(columns[first]), int(columns[last])
        left = WORD_BITS * first + (first_bits & -first_bits).bit_length() - 1
        right = WORD_BITS * last + last_bits.bit_length() - 1
        first_byte = max(left - 1, 0) // 8
        end_byte = -(-min(right + 2, frame_width) // 8)
        crops.append(
            _Crop(frame, slice(max(top - 1, 0), min(bottom + 2, height)),
                  slice(first_byte, end_byte),
                  min(8 * end_byte, frame_width) - 8 * first_byte))
    return crops


# Frames are measured in batches that share one stack of planes, sized by
# the largest crop in the batch; a bound on its words keeps the arrays small
# enough to stay in cache and be reused by the allocator.
_MAX_BATCH_WORDS = 1 << 16
_MAX_BATCH_FRAMES = 16
# Frames packed at once: bounds memory on long, high-resolution videos.
_CHUNK_FRAMES = 32


def _batches(crops: List[_Crop], reach: int) -> Iterator[List[_Crop]]:
    """Group crops of similar shape into batches of bounded size."""
    crops = sorted(crops,
                   key=lambda crop: (num_words_for(crop.width, reach), crop.
                                     rows.stop - crop.rows.start))
    batch, max_height, max_width = [], 0, 0
    for crop in crops:
        height = max(max_height, crop.rows.stop - crop.rows.start)
        width = max(max_width, crop.width)
        words = 2 * (height + reach) * num_words_for(width, reach)
        if batch and (len(batch) == _MAX_BATCH_FRAMES
                      or (len(batch) + 1) * words > _MAX_BATCH_WORDS):
            yield batch
            batch = []
            height, width = crop.rows.stop - crop.rows.start, crop.width
        batch.append(crop)
        max_height, max_width = height, width
    if batch:
        yield batch


def _measure_batch(words: np.ndarray, void_words: Optional[np.ndarray],
                   batch: List[_Crop], radius: float,
                   half_widths: Optional[Tuple[int, ...]], reach: int,
                   jaccard: Optional[np.ndarray],
                   fmeasure: Optional[np.ndarray], offset: int) -> None:
    """Fill ``jaccard`` / ``fmeasure`` at ``offset + crop.frame``.

    Args:
        words: ``(2, n, H, num_words)`` packed pred and gt frames.
        void_words: ``(n, H, num_words)`` packed void frames, or None.
    """
    num = len(batch)
    heights = np.array([crop.rows.stop - crop.rows.start for crop in batch])
    widths = np.array([crop.width for crop in batch])
    plane_rows = int(heights.max()) + reach
    num_words = num_words_for(int(widths.max()), reach)
    planes = np.zeros((2, num, plane_rows, num_words), np.uint64)
    plane_bytes = planes.view(np.uint8)
    frame_bytes = words.view(np.uint8)
    void_bytes = None if void_words is None else void_words.view(np.uint8)
    for index, crop in enumerate(batch):
        height = crop.rows.stop - crop.rows.start
        used_bytes = crop.bytes.stop - crop.bytes.start
        target = plane_bytes[:, index, :height, :used_bytes]
        target[:] = frame_bytes[:, crop.frame, crop.rows, crop.bytes]
        if void_bytes is not None:
            target &= ~void_bytes[crop.frame, crop.rows, crop.bytes]
    frames = [offset + crop.frame for crop in batch]
    if jaccard is not None:
        inter = popcounts(planes[0] & planes[1])
        union = popcounts(planes[0] | planes[1])
        for index, frame in enumerate(frames):
            jaccard[frame] = 1.0 if union[index] == 0 else (
                float(inter[index]) / float(union[index]))
    if fmeasure is None:
        return
    flat_shape = (2 * num, plane_rows, num_words)
    boundaries = boundary_planes(
        planes.reshape(flat_shape), np.tile(heights, 2), np.tile(widths, 2))
    counts = popcounts(boundaries)
    matches = np.zeros(2 * num, np.int64)
    if np.any((counts[:num] > 0) & (counts[num:] > 0)):
        if half_widths is not None:
            dilated = dilate_disk(boundaries, half_widths)
        else:
            dilated = _dilate_unpacked(boundaries, np.tile(heights, 2),
                                       np.tile(widths, 2), radius)
        # pred boundary against dilated gt, then gt boundary against pred
        swapped = dilated.reshape(planes.shape)[::-1].reshape(flat_shape)
        matches = popcounts(boundaries & swapped)
    for index, frame in enumerate(frames):
        fmeasure[frame] = _f_from_counts(
            int(counts[index]), int(counts[num + index]), int(matches[index]),
            int(matches[num + index]))


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
    """J and/or F of ``(H, W)`` or ``(T, H, W)`` masks (None if not asked)."""
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
    # zero rows / columns each plane needs: the dilation reach, and at least
    # one for the boundary maps
    reach = max(len(half_widths) - 1 if half_widths else 0, 1)
    for start in range(0, num_frames, _CHUNK_FRAMES):
        chunk = slice(start, start + _CHUNK_FRAMES)
        words = pack_frames(pred[chunk], gt[chunk])
        void_words = None if void is None else pack_frames(void[chunk])[0]
        crops = _crop_boxes(words[0] | words[1], width)
        for batch in _batches(crops, reach):
            _measure_batch(words, void_words, batch, radius, half_widths,
                           reach, jaccard, fmeasure, start)
    results = []
    for values in (jaccard, fmeasure):
        if values is None or not single_frame:
            results.append(values)
        else:
            results.append(float(values[0]))
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
