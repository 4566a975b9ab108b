"""Checks of user input shared by the dataset, the Python API and the evaluation tools.

One place decides what a valid expression, frame list, frame, image file,
JSON file and RLE mask are, so that ``InterRVOSDataset``, ``inference_video``
(and the demo) and ``tools/analysis_tools/eval_predictions.py`` accept and
reject the same inputs with the same messages.  Every check takes ``where``,
the prefix of its error message (file, video id, expression id).
"""
import json
import os.path as osp
from typing import Any, List, Optional, Sequence

import numpy as np

_JPEG_SUFFIXES = ('.jpg', '.jpeg')


class InvalidAnnotationError(ValueError):
    """An annotation that cannot give a correct sample (names file, video, expression)."""


def read_json_file(path: str, what: str) -> Any:
    """Load a JSON file; errors name the file and say what it should hold.

    Args:
        path: the file.
        what: what the file holds, for the messages (e.g. ``'mask_dict'``).

    Returns:
        The parsed content.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: it is not valid (UTF-8) JSON.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    try:
        with open(path, 'r', encoding='utf-8') as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f'{path} is not valid JSON ({what}): {err}') from err


def check_expression(text: Any, where: str) -> str:
    """The referring expression, which must be a string with a non-space character.

    Raises:
        InvalidAnnotationError: naming ``where`` and the value.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidAnnotationError(
            f'{where}: the expression ("exp") must be a non-empty string, got {text!r}')
    return text


def check_frame_names(frames: Any, where: str) -> List[str]:
    """The frame list of a video: a non-empty list of distinct names.

    Raises:
        InvalidAnnotationError: not a list of strings, empty (a video has at
            least one frame), or with repeated names.
    """
    if not isinstance(frames, list) or not all(isinstance(f, str) for f in frames):
        raise InvalidAnnotationError(f'{where}: "frames" must be a list of frame names')
    if not frames:
        raise InvalidAnnotationError(f'{where}: the video has 0 frames')
    if len(set(frames)) != len(frames):
        raise InvalidAnnotationError(f'{where}: the frame list has repeated names')
    return frames


def read_rgb_image(path: str) -> np.ndarray:
    """Read an image file as ``(H, W, 3)`` uint8 RGB with OpenCV.

    A JPEG without its end-of-image marker is rejected: libjpeg decodes a
    truncated file into a partly grey image with only a warning on stderr.

    Raises:
        OSError: the file is missing, truncated or not a decodable image.
    """
    import cv2
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        raise OSError(f'cannot read {path}: {err}') from err
    if path.lower().endswith(_JPEG_SUFFIXES):
        tail = data[-64:].tobytes().rstrip(b'\x00\r\n ')
        if data[:2].tobytes() != b'\xff\xd8' or not tail.endswith(b'\xff\xd9'):
            raise OSError(f'{path} is not a complete JPEG (missing start or end marker)')
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise OSError(f'{path} is not a decodable image')
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def stack_frames(frames: Sequence[Any], where: str,
                 names: Optional[Sequence[str]] = None) -> np.ndarray:
    """Stack the frames of one video into ``(T, H, W, 3)`` uint8 RGB.

    Args:
        frames: T arrays ``(H, W, 3)`` uint8, all of one size.
        where: prefix of the error messages.
        names: how the messages call the frames (default: their index).

    Returns:
        np.ndarray: ``(T, H, W, 3)`` uint8.

    Raises:
        ValueError: no frames, a frame that is not ``(H, W, 3)`` uint8, or
            frames of different sizes (naming the first two that differ).
    """
    arrays = [np.asarray(f) for f in frames]
    names = [str(i) for i in range(len(arrays))] if names is None else list(names)
    if not arrays:
        raise ValueError(f'{where}: the video has no frames')
    for name, frame in zip(names, arrays):
        if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
            raise ValueError(f'{where}: frame {name} is {frame.shape} {frame.dtype}, expected '
                             f'an RGB uint8 array (H, W, 3)')
    sizes = [f.shape[:2] for f in arrays]
    for name, size in zip(names, sizes):
        if size != sizes[0]:
            raise ValueError(f'{where}: frames have different sizes: frame {names[0]} is '
                             f'{sizes[0]}, frame {name} is {size} (a video has one frame size)')
    return np.stack(arrays)


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


def anno_mask_error(anno_id: str, mask_dict: dict, frame_names: Sequence[str],
                    shape: Optional[Sequence[int]], mask_path: str) -> Optional[str]:
    """Why the masks of ``anno_id`` in a mask_dict do not fit a video (None if they do).

    Checks, without decoding, that the anno id is present with one entry per
    frame, each a COCO RLE of the frame size or null.  Whether an RLE's runs
    cover its size is checked when it is decoded (:func:`decode_rle`).

    Args:
        anno_id: the annotation id.
        mask_dict: ``{anno_id: [RLE or None per frame]}``.
        frame_names: the video's frames.
        shape: the frame size ``(H, W)``; None: the size of the first RLE,
            which every other RLE must share.
        mask_path: the mask_dict file, for the messages.

    Returns:
        str | None: the reason, naming the anno id, the file and the frame.
    """
    if anno_id not in mask_dict:
        return f'anno id {anno_id} is missing from {mask_path}'
    rles = mask_dict[anno_id]
    if not isinstance(rles, list) or len(rles) != len(frame_names):
        num = len(rles) if isinstance(rles, list) else type(rles).__name__
        return (f'anno id {anno_id} has {num} masks in {mask_path}, expected one '
                f'(RLE or null) per frame ({len(frame_names)})')
    expected = None if shape is None else [int(s) for s in shape]
    for name, rle in zip(frame_names, rles):
        if rle is None:
            continue
        if not isinstance(rle, dict) or 'counts' not in rle or not isinstance(
                rle.get('size'), (list, tuple)):
            return f'anno id {anno_id} frame {name}: expected a COCO RLE, got {rle!r:.80}'
        if expected is None:
            expected = list(rle['size'])
        elif list(rle['size']) != expected:
            return (f'anno id {anno_id} frame {name}: RLE size {list(rle["size"])} differs '
                    f'from the frame size {expected}')
    return None
