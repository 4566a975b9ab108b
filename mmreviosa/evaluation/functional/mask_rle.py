"""Per-frame COCO run-length encoding of mask videos (``null`` = empty).

The form is that of ``mask_dict.json`` in the dataset format: one entry per
frame, either a COCO RLE ``{"size": [H, W], "counts": str}`` or ``None`` for
an empty frame, so the lists can be written to JSON as they are.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from pycocotools import mask as mask_utils

FrameRLE = Optional[Dict[str, object]]


def encode_masks(masks: np.ndarray) -> List[FrameRLE]:
    """Encode a ``(T, H, W)`` binary mask video frame by frame.

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
    occupied = masks.reshape(masks.shape[0], -1).any(axis=1)
    encoded: List[FrameRLE] = [None] * masks.shape[0]
    frames = np.flatnonzero(occupied)
    if frames.size:
        # pycocotools wants (H, W, N) uint8 in Fortran order
        stack = np.asfortranarray(
            (masks[frames] != 0).astype(np.uint8).transpose(1, 2, 0))
        for frame, rle in zip(frames, mask_utils.encode(stack)):
            encoded[frame] = {
                'size': [int(size) for size in rle['size']],
                'counts': rle['counts'].decode('ascii')
            }
    return encoded


def decode_masks(encoded: Sequence[FrameRLE],
                 shape: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """Decode per-frame RLEs (None = empty) to a ``(T, H, W)`` bool array.

    Args:
        encoded: ``T`` entries as written by :func:`encode_masks`.
        shape: ``(H, W)``; needed only when every entry is None.

    Returns:
        np.ndarray: ``(T, H, W)`` bool.
    """
    sizes = {tuple(rle['size']) for rle in encoded if rle is not None}
    if shape is not None:
        sizes.add(tuple(shape))
    if len(sizes) != 1:
        raise ValueError('cannot decode masks: frame sizes '
                         f'{sorted(sizes) or "unknown (all frames empty)"}')
    height, width = sizes.pop()
    masks = np.zeros((len(encoded), height, width), bool)
    for frame, rle in enumerate(encoded):
        if rle is not None:
            counts = rle['counts']
            if isinstance(counts, list):  # uncompressed RLE
                rle = mask_utils.frPyObjects(rle, height, width)
            else:
                rle = {'size': [height, width], 'counts': counts}
            masks[frame] = mask_utils.decode(rle) > 0
    return masks
