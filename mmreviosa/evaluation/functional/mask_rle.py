"""Per-frame COCO run-length encoding of mask videos (``null`` = empty).

The form is that of ``mask_dict.json`` in the dataset format: one entry per
frame, either a COCO RLE ``{"size": [H, W], "counts": str}`` or ``None`` for
an empty frame, so the lists can be written to JSON as they are.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from pycocotools import mask as mask_utils

from mmreviosa.datasets.validation import decode_rle

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


def decode_masks(encoded: Sequence[FrameRLE], shape: Optional[Tuple[int, int]] = None,
                 frame_names: Optional[Sequence[str]] = None) -> np.ndarray:
    """Decode per-frame RLEs (None = empty) to a ``(T, H, W)`` bool array.

    Each RLE goes through :func:`mmreviosa.datasets.validation.decode_rle`,
    which checks its size and that its runs cover the frame.

    Args:
        encoded: ``T`` entries as written by :func:`encode_masks`.
        shape: ``(H, W)``; needed only when every entry is None.
        frame_names: how error messages call the frames (default: index).

    Returns:
        np.ndarray: ``(T, H, W)`` bool.

    Raises:
        ValueError: frames of different sizes, or an invalid RLE (naming the frame).
    """
    names = [str(i) for i in range(len(encoded))] if frame_names is None else frame_names
    if shape is None:
        shape = next((rle['size'] for rle in encoded if isinstance(rle, dict) and 'size' in rle),
                     None)
        if shape is None:
            raise ValueError('cannot decode masks: the frame size is unknown (all frames empty)')
    height, width = (int(s) for s in shape)
    masks = np.zeros((len(encoded), height, width), bool)
    for frame, rle in enumerate(encoded):
        if rle is not None:
            try:
                masks[frame] = decode_rle(rle, (height, width))
            except ValueError as err:
                raise ValueError(f'frame {names[frame]}: {err}') from err
    return masks
