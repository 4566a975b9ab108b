"""Frames and mask images on disk.

Frames are RGB ``uint8`` arrays of shape ``(H, W, 3)`` everywhere in mmreviosa;
a split keeps them as ``JPEGImages/<video_id>/<frame>.jpg``.  The models
normalise them with the ImageNet statistics below.
"""
import os
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

#: ImageNet statistics of RGB in [0, 1]: InternVL-2.5 and SAM2 both normalise
#: frames as ``(x / 255 - mean) / std``.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: The same statistics for uint8 RGB in [0, 255]: ``(x - mean_255) / std_255``.
IMAGENET_MEAN_255 = (123.675, 116.28, 103.53)
IMAGENET_STD_255 = (58.395, 57.12, 57.375)

_JPEG_SUFFIXES = ('.jpg', '.jpeg')


def list_frame_names(folder: str, ext: str) -> List[str]:
    """Sorted names (file stems) of the frames ``<name><ext>`` in ``folder``."""
    return sorted(name[:-len(ext)] for name in os.listdir(folder) if name.endswith(ext))


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


def write_jpeg(path: str, frame: np.ndarray, quality: int = 95) -> None:
    """Write a ``(H, W, 3)`` uint8 RGB frame as a JPEG."""
    import cv2
    if not cv2.imwrite(path, np.ascontiguousarray(frame[..., ::-1]),
                       [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise OSError(f'could not write {path}')


def image_size(path: str) -> Tuple[int, int]:
    """``(H, W)`` from an image header (the pixels are not decoded).

    Raises:
        OSError: the file is missing or not an image.
    """
    from PIL import Image
    try:
        with Image.open(path) as image:
            return image.height, image.width
    except Exception as err:  # PIL raises UnidentifiedImageError, OSError, SyntaxError
        raise OSError(f'cannot read image {path}: {err}') from err


def read_palette_png(path: str) -> np.ndarray:
    """``(H, W)`` palette indices of a PNG (the object ids of Ref-YouTube-VOS / DAVIS masks).

    Raises:
        ValueError: the PNG is neither a palette nor a grey image.
    """
    from PIL import Image
    with Image.open(path) as image:
        if image.mode not in ('P', 'L', 'I', 'I;16'):
            raise ValueError(f'{path}: expected a palette or grey PNG of object ids, '
                             f'got mode {image.mode}')
        return np.array(image)


def read_binary_png(path: str) -> Optional[np.ndarray]:
    """``(H, W)`` bool mask of a PNG (non-zero pixels, any channel); None if unreadable."""
    import cv2
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        return None
    if image.ndim == 3:  # colour PNG: any non-zero channel
        image = image.max(axis=2)
    return image != 0


def write_binary_png(path: str, mask: np.ndarray) -> None:
    """Write a binary ``(H, W)`` mask as a 0 / 255 grey PNG."""
    import cv2
    if not cv2.imwrite(path, (np.asarray(mask) != 0).astype(np.uint8) * 255):
        raise OSError(f'could not write {path}')


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
