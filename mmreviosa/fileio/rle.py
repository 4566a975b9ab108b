"""COCO run-length encoding of masks: the one encoder and the one (checked) decoder.

A frame's mask is stored as a COCO RLE ``{"size": [H, W], "counts": str}``, or
``None`` (``null`` in JSON) for an empty frame: the form of ``mask_dict.json``
(one list per anno id, one entry per frame) and of the prediction JSON.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

#: One frame's mask: a COCO RLE dict, or None for an empty frame.
FrameRLE = Optional[Dict[str, object]]


def _encode_stack(masks: np.ndarray) -> List[dict]:
    """COCO RLEs (``counts`` as str) of ``(N, H, W)`` binary masks, one per mask."""
    from pycocotools import mask as mask_utils

    # pycocotools wants (H, W, N) uint8 in Fortran order
    stack = np.asfortranarray((masks != 0).astype(np.uint8).transpose(1, 2, 0))
    return [{'size': [int(size) for size in rle['size']], 'counts': rle['counts'].decode('ascii')}
            for rle in mask_utils.encode(stack)]


def encode_rle(mask: np.ndarray) -> dict:
    """COCO RLE of one ``(H, W)`` binary mask, ``counts`` as str (JSON-ready), empty or not."""
    return _encode_stack(np.asarray(mask)[None])[0]


def encode_masks(masks: np.ndarray) -> List[FrameRLE]:
    """Encode a ``(T, H, W)`` binary mask video frame by frame, None for an empty frame.

    Args:
        masks: ``(T, H, W)`` bool/uint8 (non-zero = foreground), numpy array
            or torch tensor.

    Returns:
        list: ``T`` entries, a COCO RLE dict with ``counts`` as str, or None
        for an empty frame.
    """
    if hasattr(masks, 'detach'):
        masks = masks.detach().cpu().numpy()
    masks = np.asarray(masks)
    if masks.ndim != 3:
        raise ValueError(f'expected (T, H, W) masks, got shape {masks.shape}')
    encoded: List[FrameRLE] = [None] * masks.shape[0]
    frames = np.flatnonzero(masks.reshape(masks.shape[0], -1).any(axis=1))
    if frames.size:
        for frame, rle in zip(frames, _encode_stack(masks[frames])):
            encoded[frame] = rle
    return encoded


def _run_lengths(counts: bytes) -> List[int]:
    """The run lengths of a compressed COCO RLE string (pycocotools' ``rleFrString``).

    Each run is a little-endian sequence of 5-bit groups offset by 48, bit 0x20
    meaning "more groups follow" and bit 0x10 of the last group the sign; from
    the fourth run on, the value is a difference to the run two before.
    """
    runs: List[int] = []
    value, shift = 0, 0
    for char in counts:
        group = char - 48
        value |= (group & 0x1f) << shift
        shift += 5
        if group & 0x20:
            continue
        if group & 0x10:
            value -= 1 << shift
        if len(runs) > 2:
            value += runs[-2]
        runs.append(value)
        value, shift = 0, 0
    return runs


def _checked_size(rle: dict, shape: Optional[Sequence[int]]) -> List[int]:
    if not isinstance(rle, dict) or 'size' not in rle or 'counts' not in rle:
        raise ValueError(f'expected a COCO RLE {{"size": [h, w], "counts": ...}}, '
                         f'got {rle!r:.80}')
    try:
        size = [int(s) for s in rle['size']]
    except (TypeError, ValueError):
        size = []
    if len(size) != 2 or min(size) < 0:
        raise ValueError(f'RLE size must be [h, w], got {rle["size"]!r:.40}')
    if shape is not None and size != [int(shape[0]), int(shape[1])]:
        raise ValueError(f'RLE size {size} differs from the frame size '
                         f'{[int(shape[0]), int(shape[1])]}')
    return size


def decode_rle(rle: dict, shape: Optional[Sequence[int]] = None) -> np.ndarray:
    """Decode one COCO RLE (compressed string/bytes or uncompressed counts) to ``(H, W)`` bool.

    The one RLE decoder of mmreviosa.  pycocotools decodes run lengths that
    cover fewer pixels than ``H * W`` without an error, filling the rest from
    uninitialised memory, so the runs are checked to cover exactly ``H * W``.

    Args:
        rle: ``{"size": [H, W], "counts": str | bytes | list[int]}``.
        shape: the expected ``(H, W)``; None takes the RLE's ``size``.

    Returns:
        np.ndarray: ``(H, W)`` bool.

    Raises:
        ValueError: not an RLE, its ``size`` differs from ``shape``, its runs
            do not cover ``H * W`` pixels (or are negative), or it cannot be
            decoded.
    """
    from pycocotools import mask as mask_utils
    size = _checked_size(rle, shape)
    height, width = size
    counts = rle['counts']
    if isinstance(counts, str):
        counts = counts.encode('ascii', errors='replace')
    if isinstance(counts, list):
        runs = counts
        if not all(isinstance(c, (int, np.integer)) for c in runs):
            raise ValueError(f'RLE counts must be integers, got {counts!r:.80}')
    elif isinstance(counts, bytes):
        runs = _run_lengths(counts)
    else:
        raise ValueError(f'RLE counts must be a string or a list, got {type(counts).__name__}')
    if any(run < 0 for run in runs) or sum(runs) != height * width:
        raise ValueError(f'RLE runs cover {sum(runs)} pixels, the size {size} has '
                         f'{height * width} (counts do not match the size)')
    try:
        encoded = (mask_utils.frPyObjects(dict(size=size, counts=counts), height, width)
                   if isinstance(counts, list) else dict(size=size, counts=counts))
        mask = mask_utils.decode(encoded)
    except Exception as err:  # pycocotools raises bare Exceptions on corrupt counts
        raise ValueError(f'cannot decode RLE: {err}') from err
    return mask.astype(bool).reshape(height, width)


def decode_masks(encoded: Sequence[FrameRLE], shape: Optional[Tuple[int, int]] = None,
                 frame_names: Optional[Sequence[str]] = None) -> np.ndarray:
    """Decode per-frame RLEs (None = empty) to a ``(T, H, W)`` bool array.

    Args:
        encoded: ``T`` entries as written by :func:`encode_masks`.
        shape: ``(H, W)``; needed only when every entry is None.
        frame_names: how error messages call the frames (default: index).

    Returns:
        np.ndarray: ``(T, H, W)`` bool.

    Raises:
        ValueError: frames of different sizes, or an invalid RLE (naming the frame).
    """
    if shape is None:
        shape = next((rle['size'] for rle in encoded if isinstance(rle, dict) and 'size' in rle),
                     None)
        if shape is None:
            raise ValueError('cannot decode masks: the frame size is unknown (all frames empty)')
    return union_of_annotations([encoded], [None], range(len(encoded)), shape, frame_names)


def union_of_annotations(rles_per_anno: Sequence[Sequence[FrameRLE]],
                         anno_ids: Sequence[Optional[str]], frame_inds: Sequence[int],
                         shape: Sequence[int], frame_names: Optional[Sequence[str]] = None,
                         where: str = '') -> np.ndarray:
    """Union over several annotations (one role) of their masks on the frames ``frame_inds``.

    Several anno ids in one role mean the union of their masks (one-to-many);
    a role without anno ids has empty masks.  Each frame of an annotation is
    decoded once, even when ``frame_inds`` repeats it.

    Args:
        rles_per_anno: per anno id, its per-frame RLEs (None = empty) over the
            whole video.
        anno_ids: the anno ids, for the messages (None: not named).
        frame_inds: the frames to return, in order, repeats allowed.
        shape: the frame size ``(H, W)``; every RLE must have it.
        frame_names: how the messages call the frames (default: index).
        where: prefix of the messages (file, video, expression).

    Returns:
        np.ndarray: ``(len(frame_inds), H, W)`` bool.

    Raises:
        ValueError: an RLE that is not of size ``shape`` or whose runs do not
            cover it: ``"<where>: anno id <id> frame <name>: <reason>"``.
    """
    height, width = (int(s) for s in shape)
    names = frame_names or []
    union = np.zeros((len(frame_inds), height, width), dtype=bool)
    for anno_id, rles in zip(anno_ids, rles_per_anno):
        decoded: Dict[int, Optional[np.ndarray]] = {}
        for row, index in enumerate(frame_inds):
            if index not in decoded:
                rle = rles[index]
                try:
                    decoded[index] = None if rle is None else decode_rle(rle, (height, width))
                except (ValueError, KeyError, TypeError) as err:
                    name = names[index] if index < len(names) else index
                    prefix = f'{where}: ' if where else ''
                    if anno_id is not None:
                        prefix += f'anno id {anno_id} '
                    raise ValueError(f'{prefix}frame {name}: {err}') from err
            if decoded[index] is not None:
                union[row] |= decoded[index]
    return union
