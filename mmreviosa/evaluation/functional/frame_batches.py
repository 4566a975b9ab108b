"""Per-frame J and F of a mask video, measured in batches of bit planes.

Frames are packed to bits (64 pixels a word), each frame is cropped to the
bounding box of ``pred | gt`` (outside it both masks and both boundary maps
are background), and crops of similar shape are stacked into one array of
bit planes so that every numpy operation serves many frames. All counts are
integers; the only floating-point steps are the final divisions and the F
formula, in the order of the official DAVIS code.
"""
import sys
from typing import Iterator, List, NamedTuple, Optional, Tuple

import cv2
import numpy as np

from .disk import disk_half_widths, disk_kernel
from .packed_masks import (WORD_BITS, boundary_planes, dilate_disk, num_words_for, pack_frames,
                           pack_planes, popcounts, unpack_plane)

# A batch's planes share the largest crop shape of the batch; bounding the
# words of one stack keeps its arrays in cache and reused by the allocator.
_MAX_BATCH_WORDS = 1 << 17
_MAX_BATCH_FRAMES = 16
# Frames packed at once: bounds memory on long, high-resolution videos.
_CHUNK_FRAMES = 32


class _Crop(NamedTuple):
    """Where one frame's work happens: pixel rows, byte columns, width."""
    frame: int
    rows: slice
    bytes: slice
    width: int

    @property
    def height(self) -> int:
        return self.rows.stop - self.rows.start


def f_from_counts(n_fg: int, n_gt: int, fg_match: int, gt_match: int) -> float:
    """DAVIS ``f_measure``: precision/recall case analysis and F formula.

    Args:
        n_fg: boundary pixels of the prediction.
        n_gt: boundary pixels of the ground truth.
        fg_match: prediction boundary pixels near a ground-truth one.
        gt_match: ground-truth boundary pixels near a predicted one.

    Returns:
        float: F (no boundary at all: 1; one side without: 0).
    """
    if n_fg == 0 or n_gt == 0:
        # DAVIS sets precision and recall to 1 and 1 when neither mask has a boundary
        # (F = 1), and to 1 and 0 (or 0 and 1) when only one has (F = 0).
        return 1.0 if n_fg == n_gt else 0.0
    precision = float(fg_match) / float(n_fg)
    recall = float(gt_match) / float(n_gt)
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def _crop_boxes(union_words: np.ndarray, frame_width: int) -> List[_Crop]:
    """Byte-aligned bounding boxes of ``pred | gt``, one row/column grown.

    Outside the box both masks are background, so neither boundary map has a
    pixel there: a boundary pixel differs from a neighbour one pixel down or
    right, hence lies in the bounding box grown by one row and column up and
    left. The box also keeps one background row and column below and right
    (or reaches the frame border), so that the last-row / last-column rule of
    ``_seg2bmap`` gives the same values inside the box as in the frame.
    A larger box does as well: columns are rounded out to bytes of 8 pixels.

    Args:
        union_words: ``(n, H, num_words)`` packed ``pred | gt``.
        frame_width: W.

    Returns:
        list[_Crop]: one per frame where a mask is not empty.
    """
    num_frames, height, _ = union_words.shape
    # OR over the words of each row, the word axis first (a fast reduction)
    occupied_rows = np.bitwise_or.reduce(union_words.transpose(2, 0, 1), axis=0) != 0
    non_empty = occupied_rows.any(axis=1)
    tops = np.argmax(occupied_rows, axis=1)
    bottoms = height - 1 - np.argmax(occupied_rows[:, ::-1], axis=1)
    crops = []
    for frame in np.flatnonzero(non_empty):
        top, bottom = int(tops[frame]), int(bottoms[frame])
        columns = np.bitwise_or.reduce(union_words[frame, top:bottom + 1], axis=0)
        occupied_words = np.flatnonzero(columns)
        first, last = int(occupied_words[0]), int(occupied_words[-1])
        first_bits, last_bits = int(columns[first]), int(columns[last])
        left = WORD_BITS * first + (first_bits & -first_bits).bit_length() - 1
        right = WORD_BITS * last + last_bits.bit_length() - 1
        first_byte = max(left - 1, 0) // 8
        end_byte = -(-min(right + 2, frame_width) // 8)
        crops.append(
            _Crop(int(frame), slice(max(top - 1, 0), min(bottom + 2, height)),
                  slice(first_byte, end_byte),
                  min(8 * end_byte, frame_width) - 8 * first_byte))
    return crops


def _batches(crops: List[_Crop], reach: int) -> Iterator[List[_Crop]]:
    """Group crops of similar shape into batches of bounded size."""
    crops = sorted(crops, key=lambda crop: (num_words_for(crop.width, reach), crop.height))
    batch, max_height, max_width = [], 0, 0
    for crop in crops:
        height, width = max(max_height, crop.height), max(max_width, crop.width)
        words = 2 * (height + reach) * num_words_for(width, reach)
        if batch and (len(batch) == _MAX_BATCH_FRAMES
                      or (len(batch) + 1) * words > _MAX_BATCH_WORDS):
            yield batch
            batch = []
            height, width = crop.height, crop.width
        batch.append(crop)
        max_height, max_width = height, width
    if batch:
        yield batch


def _dilate_unpacked(boundaries: np.ndarray, heights: np.ndarray, widths: np.ndarray,
                     radius: float) -> np.ndarray:
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


def _measure_batch(words: np.ndarray, void_words: Optional[np.ndarray], batch: List[_Crop],
                   radius: float, reach: int, jaccard: Optional[np.ndarray],
                   fmeasure: Optional[np.ndarray], offset: int) -> None:
    """Fill ``jaccard`` / ``fmeasure`` at ``offset + crop.frame``.

    Args:
        words: ``(2, n, H, num_words)`` packed pred and gt frames.
        void_words: ``(n, H, num_words)`` packed void frames, or None.
        batch: the crops to measure.
        radius: boundary matching radius.
        reach: zero rows / columns each plane needs after its content.
        jaccard: ``(T,)`` output, or None when J is not asked for.
        fmeasure: ``(T,)`` output, or None when F is not asked for.
        offset: index in the outputs of the first frame of ``words``.
    """
    num = len(batch)
    heights = np.array([crop.height for crop in batch])
    widths = np.array([crop.width for crop in batch])
    plane_rows = int(heights.max()) + reach
    num_words = num_words_for(int(widths.max()), reach)
    planes = np.zeros((2, num, plane_rows, num_words), np.uint64)
    plane_bytes = planes.view(np.uint8)
    frame_bytes = words.view(np.uint8)
    void_bytes = None if void_words is None else void_words.view(np.uint8)
    for index, crop in enumerate(batch):
        target = plane_bytes[:, index, :crop.height, :crop.bytes.stop - crop.bytes.start]
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
        half_widths = disk_half_widths(radius)
        if half_widths is not None:
            dilated = dilate_disk(boundaries, half_widths)
        else:
            dilated = _dilate_unpacked(boundaries, np.tile(heights, 2), np.tile(widths, 2),
                                       radius)
        # pred boundary against dilated gt, then gt boundary against pred
        swapped = dilated.reshape(planes.shape)[::-1].reshape(flat_shape)
        matches = popcounts(boundaries & swapped)
    for index, frame in enumerate(frames):
        fmeasure[frame] = f_from_counts(
            int(counts[index]), int(counts[num + index]), int(matches[index]),
            int(matches[num + index]))


def measure_video(pred: np.ndarray, gt: np.ndarray, void: Optional[np.ndarray],
                  radius: float, need_j: bool,
                  need_f: bool) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """Per-frame J and/or F of ``(T, H, W)`` bool/uint8 masks.

    Args:
        pred: ``(T, H, W)`` predicted masks.
        gt: ``(T, H, W)`` ground-truth masks.
        void: ``(T, H, W)`` ignored pixels, or None.
        radius: boundary matching radius (see ``boundary_radius``).
        need_j: compute J.
        need_f: compute F.

    Returns:
        tuple: ``(T,)`` float64 J and F (None for a measure not asked for).
    """
    if sys.byteorder != 'little':
        raise NotImplementedError('the packed J/F needs a little-endian machine')
    num_frames, _, width = pred.shape
    # frames where both masks are empty keep J = 1 (empty union) and F = 1
    jaccard = np.ones(num_frames) if need_j else None
    fmeasure = np.ones(num_frames) if need_f else None
    half_widths = disk_half_widths(radius) if need_f else None
    # zero rows / columns a plane needs after its content: the reach of the
    # packed dilation, and at least one for the boundary maps
    reach = max(len(half_widths) - 1, 1) if half_widths else 1
    for start in range(0, num_frames, _CHUNK_FRAMES):
        chunk = slice(start, start + _CHUNK_FRAMES)
        words = pack_frames(pred[chunk], gt[chunk])
        void_words = None if void is None else pack_frames(void[chunk])[0]
        for batch in _batches(_crop_boxes(words[0] | words[1], width), reach):
            _measure_batch(words, void_words, batch, radius, reach, jaccard, fmeasure, start)
    return jaccard, fmeasure
