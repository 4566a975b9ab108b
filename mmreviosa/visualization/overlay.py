"""Drawing actor (red) and target (blue) masks over video frames, and saving them."""
import os
import os.path as osp
from typing import Optional, Sequence

import numpy as np

#: RGB colours of the roles.
ACTOR_COLOR = (255, 0, 0)
TARGET_COLOR = (0, 0, 255)


def _blend(frame: np.ndarray, mask: np.ndarray, color: Sequence[int], alpha: float) -> None:
    """In place: blend ``color`` into ``frame`` on ``mask``, then draw the mask's contour."""
    import cv2
    if not mask.any():
        return
    region = frame[mask].astype(np.float32)
    frame[mask] = np.round(region * (1 - alpha) + np.float32(color) * alpha).astype(np.uint8)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_NONE)
    # Contour points lie on the mask's own border pixels, so nothing outside is changed.
    cv2.drawContours(frame, contours, -1, tuple(int(c) for c in color), thickness=1)


def overlay_masks(frames: np.ndarray, actor_masks: Optional[np.ndarray] = None,
                  target_masks: Optional[np.ndarray] = None, alpha: float = 0.5) -> np.ndarray:
    """Colour the role masks over the frames.

    Inside a mask a pixel becomes ``round((1 - alpha) * pixel + alpha * color)``
    (actor red, then target blue, so an overlap is blended twice) and the
    mask's border pixels take the full colour; pixels outside every mask are
    unchanged.

    Args:
        frames: (T, H, W, 3) uint8 RGB.
        actor_masks: (T, H, W) bool, or None.
        target_masks: (T, H, W) bool, or None.
        alpha: opacity of the fill in [0, 1].

    Returns:
        np.ndarray: (T, H, W, 3) uint8, a new array.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f'frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}')
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f'alpha must be in [0, 1], got {alpha}')
    out = frames.copy()
    for masks, color in ((actor_masks, ACTOR_COLOR), (target_masks, TARGET_COLOR)):
        if masks is None:
            continue
        masks = np.asarray(masks).astype(bool)
        if masks.shape != frames.shape[:3]:
            raise ValueError(f'masks must be {frames.shape[:3]}, got {masks.shape}')
        for t in range(len(out)):
            _blend(out[t], masks[t], color, alpha)
    return out


def _wrap(text: str, width: int, font, scale: float, thickness: int) -> list:
    import cv2
    lines, line = [], ''
    for word in text.split():
        candidate = f'{line} {word}'.strip()
        if line and cv2.getTextSize(candidate, font, scale, thickness)[0][0] > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return lines + [line] if line else lines


def add_caption(frames: np.ndarray, text: str, font_scale: Optional[float] = None) -> np.ndarray:
    """Put ``text`` (wrapped) in a black band above every frame.

    Args:
        frames: (T, H, W, 3) uint8.
        text: the caption (e.g. the expression, or the answer).
        font_scale: OpenCV font scale; default grows with the frame width.

    Returns:
        np.ndarray: (T, H + band, W, 3) uint8.
    """
    import cv2
    frames = np.asarray(frames)
    width = frames.shape[2]
    font, thickness = cv2.FONT_HERSHEY_SIMPLEX, 1
    scale = font_scale or max(0.3, min(0.8, width / 640))
    margin = 4
    lines = _wrap(text, width - 2 * margin, font, scale, thickness) or ['']
    line_height = cv2.getTextSize('Ag', font, scale, thickness)[0][1] + 2 * margin
    band = np.zeros((line_height * len(lines) + margin, width, 3), dtype=np.uint8)
    for i, line in enumerate(lines):
        cv2.putText(band, line, (margin, (i + 1) * line_height), font, scale, (255, 255, 255),
                    thickness, cv2.LINE_AA)
    return np.concatenate([np.broadcast_to(band, (len(frames), *band.shape)), frames], axis=1)


def _prepare(frames, path: str, caption: Optional[str]) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or not len(frames):
        raise ValueError(f'frames must be (T, H, W, 3) uint8 with T >= 1, got '
                         f'{frames.shape} {frames.dtype}')
    if osp.dirname(path):
        os.makedirs(osp.dirname(path), exist_ok=True)
    return add_caption(frames, caption) if caption else frames


def write_gif(frames: np.ndarray, path: str, fps: float = 5,
              caption: Optional[str] = None) -> str:
    """Save (T, H, W, 3) uint8 RGB frames as a looping GIF (optionally captioned); returns path."""
    from PIL import Image
    frames = _prepare(frames, path, caption)
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:],
                   duration=max(1, int(round(1000 / fps))), loop=0, optimize=False)
    return path


def write_video(frames: np.ndarray, path: str, fps: float = 5,
                caption: Optional[str] = None) -> str:
    """Save (T, H, W, 3) uint8 RGB frames as an H.264 mp4 with PyAV (optionally captioned).

    Returns the path.
    """
    from mmreviosa.fileio import write_video_file
    frames = _prepare(frames, path, caption)
    write_video_file(frames, path, fps=fps)
    return path
