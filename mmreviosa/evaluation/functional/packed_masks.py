"""Bit-packed binary images for exact, fast boundary matching.

A stack of ``n`` binary crops of ``h x w`` pixels is stored as a uint64 array
of shape ``(n, h + pad_rows, num_words)``: bit ``j`` of word ``k`` in a row is
the pixel in column ``64 * k + j``.  Rows ``h..h + pad_rows - 1`` and the
columns ``w..64 * num_words - 1`` are zero.  With at least ``r`` padding rows
and columns, the planes can be handled as one long 1-D bit string (flattened
row-major) while a dilation of radius ``r`` never mixes two rows or two planes,
so every step is a whole-array numpy operation on a contiguous array.

Everything here is exact integer logic: the results equal those of the unpacked
reference operations bit for bit. Words are viewed as bytes in memory order, so
this relies on a little-endian machine (checked by ``frame_batches``).
"""
from typing import List, Sequence, Tuple

import numpy as np

WORD_BITS = 64
_ONE = np.uint64(1)
_LAST_BIT_SHIFT = np.uint64(WORD_BITS - 1)


def num_words_for(width: int, gap: int) -> int:
    """Words per packed row holding ``width`` pixels and ``gap`` zero columns."""
    return -(-(width + gap) // WORD_BITS)


def pack_frames(*masks: np.ndarray) -> np.ndarray:
    """Pack the rows of stacks of binary frames into words.

    Args:
        *masks: ``m`` arrays of shape ``(n, H, W)``, any dtype (non-zero =
            set).

    Returns:
        np.ndarray: ``(m, n, H, ceil(W / 64))`` uint64; bit ``j`` of word ``k``
        is column ``64 * k + j``; bits past ``W`` are zero.
    """
    num_frames, height, width = masks[0].shape
    num_bytes = -(-width // 8)
    num_words = -(-num_bytes // 8)
    buffer = np.zeros((len(masks), num_frames, height, num_words * 8),
                      np.uint8)
    for index, mask in enumerate(masks):
        buffer[index, ..., :num_bytes] = np.packbits(
            mask, axis=-1, bitorder='little')
    return buffer.view(np.uint64)


def pack_planes(crops: Sequence[np.ndarray], rows: int,
                num_words: int) -> np.ndarray:
    """Pack 2-D binary crops into a stack of zero-padded bit planes.

    Args:
        crops: ``n`` arrays of shape ``(h_i, w_i)``, any dtype (non-zero =
            set), with ``h_i <= rows`` and ``w_i <= 64 * num_words``.
        rows: rows of every plane.
        num_words: words per row.

    Returns:
        np.ndarray: ``(n, rows, num_words)`` uint64, crop ``i`` in the top-left
        corner of plane ``i``.
    """
    buffer = np.zeros((len(crops), rows, num_words * 8), np.uint8)
    for plane, crop in enumerate(crops):
        height, width = crop.shape
        buffer[plane, :height, :-(-width // 8)] = np.packbits(
            crop, axis=1, bitorder='little')
    return buffer.view(np.uint64)


def popcounts(planes: np.ndarray) -> np.ndarray:
    """Number of set bits of each plane.

    Args:
        planes: ``(n, ...)`` uint64.

    Returns:
        np.ndarray: ``(n,)`` int64 counts.
    """
    counts = np.bitwise_count(planes).reshape(planes.shape[0], -1)
    # uint32 sums are the fast path; a plane has far fewer than 2**32 bits
    return counts.sum(axis=1, dtype=np.uint32).astype(np.int64)


def boundary_planes(planes: np.ndarray, heights: np.ndarray,
                    widths: np.ndarray) -> np.ndarray:
    """One-pixel boundary maps with DAVIS ``_seg2bmap`` semantics.

    A pixel is a boundary pixel when it differs from its east, south or
    south-east neighbour; on the last row only the east neighbour counts, on
    the last column only the south one, and the bottom-right pixel never is.
    That is the same as comparing with the neighbours of an image extended by
    replicating its last row and column. With ``horizontal = S ^ east`` and
    ``vertical = S ^ south``, ``S ^ south_east = vertical ^ horizontal(y + 1)``
    so the map is ``horizontal | vertical | horizontal(y + 1)``; replication
    makes ``horizontal`` zero on the last column and ``vertical`` zero on the
    last row.

    Args:
        planes: ``(n, rows, num_words)`` uint64 packed crops; plane ``i`` holds
            ``heights[i] x widths[i]`` pixels, is zero elsewhere, and has at
            least one zero row below and one zero column after its content.
        heights: ``(n,)`` int, rows of each crop.
        widths: ``(n,)`` int, columns of each crop.

    Returns:
        np.ndarray: boundary maps, same shape as ``planes``, zero outside each
        crop.
    """
    num_planes, _, num_words = planes.shape
    plane_index = np.arange(num_planes)
    # east neighbour: pixel x + 1, carried across the words of the flat
    # string (what a row's last word receives from the next row is cleared
    # below with the columns from the last one on)
    flat = planes.reshape(-1)
    horizontal = flat >> _ONE
    horizontal[:-1] |= flat[1:] << _LAST_BIT_SHIFT
    horizontal ^= flat
    horizontal = horizontal.reshape(planes.shape)
    # columns 0 .. width - 2 of each plane
    kept_bits = np.asarray(widths) - 1 - WORD_BITS * np.arange(num_words)[:, None]
    kept_bits = np.clip(kept_bits, 0, WORD_BITS).T.astype(np.uint64)
    full = kept_bits == WORD_BITS
    kept = np.where(full, ~np.uint64(0),
                    (_ONE << np.where(full, 0, kept_bits).astype(np.uint64)) - _ONE)
    horizontal &= kept[:, None, :]
    vertical = np.zeros_like(planes)
    np.bitwise_xor(planes[:, :-1], planes[:, 1:], out=vertical[:, :-1])
    vertical[plane_index, np.asarray(heights) - 1] = 0
    vertical |= horizontal
    vertical[:, :-1] |= horizontal[:, 1:]
    return vertical


def _spread(bits: np.ndarray, distance: int,
            scratch: np.ndarray) -> np.ndarray:
    """OR of a flat bit string shifted ``distance`` bits left and right.

    ``scratch`` is a work array of the same size (overwritten).
    """
    word_shift, bit_shift = divmod(distance, WORD_BITS)
    size = bits.size
    count = size - word_shift
    if count <= 0:
        return np.zeros_like(bits)
    spread = np.empty_like(bits) if word_shift == 0 else np.zeros_like(bits)
    lower, higher = bits[word_shift:], bits[:count]
    if bit_shift == 0:
        spread[word_shift:] = higher
        spread[:count] |= lower
        return spread
    up, down = np.uint64(bit_shift), np.uint64(WORD_BITS - bit_shift)
    # column c + distance receives column c, carried across words
    np.left_shift(higher, up, out=spread[word_shift:])
    carry = scratch[:count - 1]
    np.right_shift(higher[:-1], down, out=carry)
    np.bitwise_or(spread[word_shift + 1:], carry, out=spread[word_shift + 1:])
    # column c - distance receives column c
    towards_lower = scratch[:count]
    np.right_shift(lower, up, out=towards_lower)
    np.bitwise_or(spread[:count], towards_lower, out=spread[:count])
    np.left_shift(lower[1:], down, out=carry)
    np.bitwise_or(spread[:count - 1], carry, out=spread[:count - 1])
    return spread


def _horizontal_steps(half_widths: Sequence[int]) -> List[Tuple[int, int]]:
    """Steps ``(width, shift)`` reaching every half-width by doubling.

    Dilating by ``[-a, a]`` then OR-ing shifts by ``+-b`` gives ``[-a - b,
    a + b]`` exactly when ``b <= a``; the first step (from 0) also keeps the
    centre.
    """
    steps, width = [], 0
    for target in sorted(set(half_widths)):
        while target > width:
            shift = min(max(width, 1), target - width)
            width += shift
            steps.append((width, shift))
    return steps


def dilate_disk(planes: np.ndarray, half_widths: Sequence[int]) -> np.ndarray:
    """Dilate packed planes by a symmetric disk given by its row half-widths.

    The structuring element holds the pixels ``(dy, dx)`` with
    ``|dx| <= half_widths[|dy|]`` for ``|dy| <= r`` (``r =
    len(half_widths) - 1``); the half-widths must not increase with ``|dy|``.
    Rows are combined from the outermost ring inwards,
    ``U_k = H_k | U_{k+1}(y - 1) | U_{k+1}(y + 1)`` with ``H_k`` the
    horizontal dilation by ``half_widths[k]`` (built by doubling). Every term
    the ring recursion adds beyond the disk is covered by a wider term nearer
    the centre, and each term of the disk is reached along a monotone path of
    rows, so rows outside the array are not needed. Horizontally the planes
    are one long bit string whose rows are separated by at least ``r`` zero
    columns, and ``r`` zero bits are put in front, so shifts never mix rows.
    Only a few arrays are alive at a time, which keeps them in cache.

    Args:
        planes: ``(n, rows, num_words)`` uint64 with at least ``r`` zero rows
            below each plane's content and at least ``r`` zero columns after
            each row's content.
        half_widths: ``r + 1`` non-increasing half-widths.

    Returns:
        np.ndarray: the dilated planes, same shape.
    """
    num_words = planes.shape[-1]
    margin = -(-max(half_widths) // WORD_BITS)
    horizontal = np.concatenate(
        [np.zeros(margin, np.uint64), planes.reshape(-1)])
    scratch = np.empty_like(horizontal)
    steps = iter(_horizontal_steps(half_widths))
    grown_by = 0
    ring = None
    for half_width in reversed(half_widths):
        while grown_by < half_width:
            grown_by, shift = next(steps)
            spread = _spread(horizontal, shift, scratch)
            if grown_by == shift:  # first step: keep the centre too
                spread |= horizontal
            horizontal = spread
        if ring is None:
            ring = horizontal
            continue
        inner = horizontal.copy()
        np.bitwise_or(inner[num_words:], ring[:-num_words],
                      out=inner[num_words:])
        np.bitwise_or(inner[:-num_words], ring[num_words:],
                      out=inner[:-num_words])
        ring = inner
    return ring[margin:].reshape(planes.shape)


def unpack_plane(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    """Unpack the top-left ``height x width`` pixels of one bit plane.

    Args:
        plane: ``(rows, num_words)`` uint64.
        height: rows to unpack.
        width: columns to unpack.

    Returns:
        np.ndarray: ``(height, width)`` uint8 of 0 and 1.
    """
    as_bytes = np.ascontiguousarray(plane[:height]).view(np.uint8)
    return np.unpackbits(as_bytes, axis=-1, count=width, bitorder='little')
