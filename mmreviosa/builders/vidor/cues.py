"""Object cues derived from the tracks: motion, size, position and colour.

The cues are coarse words ("moving left", "big", "on the right", "red") that a
referring expression can use; each is None when the track does not support a
clear word.  Thresholds are fractions of the frame size, so they hold at any
resolution.
"""
import colorsys
from itertools import combinations
from typing import Dict, List, Optional, Sequence

import numpy as np

from mmreviosa.builders.vidor.masks import box_to_slices
from mmreviosa.builders.vidor.reader import Box
from mmreviosa.fileio import decode_rle, read_rgb_image

#: Cue names in the order a description prefers them.
CUE_ORDER = ('colour', 'size', 'position', 'motion')

# Net displacement (fraction of the frame side) that counts as moving in a
# direction, and total path (fraction of the diagonal) below which a track is
# still.
MOVE_THRESHOLD = 0.1
STILL_THRESHOLD = 0.03
# Mean box area (fraction of the frame) above which an object is big, below
# which it is small.
BIG_AREA, SMALL_AREA = 0.2, 0.02
# Frames sampled per object to estimate its colour.
COLOUR_FRAMES = 4


def motion_cue(boxes: Sequence[Optional[Box]], width: int, height: int) -> Optional[str]:
    """'moving left/right/up/down', 'static' or None (no clear direction).

    Uses the box centres on the frames where the object is present: the net
    displacement from the first to the last one decides the direction.
    """
    centres = np.array([((b[0] + b[2]) / 2 / width, (b[1] + b[3]) / 2 / height)
                        for b in boxes if b is not None])
    if len(centres) < 2:
        return None
    dx, dy = centres[-1] - centres[0]
    if max(abs(dx), abs(dy)) >= MOVE_THRESHOLD:
        if abs(dx) >= abs(dy):
            return 'moving right' if dx > 0 else 'moving left'
        return 'moving down' if dy > 0 else 'moving up'
    path = np.linalg.norm(np.diff(centres, axis=0), axis=1).sum()
    return 'static' if path < STILL_THRESHOLD else None


def size_cue(boxes: Sequence[Optional[Box]], width: int, height: int) -> Optional[str]:
    """'big', 'small' or None, from the mean box area relative to the frame."""
    areas = [(b[2] - b[0]) * (b[3] - b[1]) / (width * height) for b in boxes if b is not None]
    if not areas:
        return None
    mean_area = float(np.mean(areas))
    if mean_area >= BIG_AREA:
        return 'big'
    if mean_area <= SMALL_AREA:
        return 'small'
    return None


def position_cue(boxes: Sequence[Optional[Box]], width: int) -> Optional[str]:
    """'on the left', 'in the middle' or 'on the right' (mean centre, thirds)."""
    xs = [(b[0] + b[2]) / 2 / width for b in boxes if b is not None]
    if not xs:
        return None
    mean_x = float(np.mean(xs))
    if mean_x < 1 / 3:
        return 'on the left'
    if mean_x > 2 / 3:
        return 'on the right'
    return 'in the middle'


def colour_name(rgb: Sequence[float]) -> str:
    """Basic colour word of an RGB triple (0-255)."""
    hue, sat, val = colorsys.rgb_to_hsv(*(float(c) / 255 for c in rgb))
    if val < 0.2:
        return 'black'
    if sat < 0.2:
        return 'white' if val > 0.8 else 'grey'
    degrees = hue * 360
    if degrees < 15 or degrees >= 345:
        return 'red'
    if degrees < 40:
        return 'brown' if val < 0.6 else 'orange'
    if degrees < 70:
        return 'yellow'
    if degrees < 160:
        return 'green'
    if degrees < 260:
        return 'blue'
    if degrees < 290:
        return 'purple'
    return 'pink'


def colour_cue(boxes: Sequence[Optional[Box]], rles: Sequence[Optional[dict]],
               frame_paths: Sequence[str], box_masks: bool) -> Optional[str]:
    """Colour word of the object's pixels (median over a few frames).

    Args:
        boxes, rles, frame_paths: per sampled frame.
        box_masks: the masks are filled boxes, so only the central half of the
            box is used (its border is mostly background).
    """
    present = [i for i, rle in enumerate(rles) if rle is not None]
    if not present:
        return None
    picks = [present[int(k)] for k in np.linspace(0, len(present) - 1,
                                                  min(COLOUR_FRAMES, len(present)))]
    pixels = []
    for index in sorted(set(picks)):
        try:
            image = read_rgb_image(frame_paths[index])
        except OSError:
            continue
        mask = decode_rle(rles[index])
        if box_masks and boxes[index] is not None:
            height, width = mask.shape
            centre = np.zeros_like(mask)
            centre[box_to_slices(boxes[index], height, width, margin=-0.25)] = True
            mask = mask & centre
        pixels.append(image[mask])
    pixels = [p for p in pixels if len(p)]
    if not pixels:
        return None
    return colour_name(np.median(np.concatenate(pixels), axis=0))


def object_cues(boxes: Sequence[Optional[Box]], rles: Sequence[Optional[dict]],
                frame_paths: Sequence[str], width: int, height: int,
                box_masks: bool) -> Dict[str, Optional[str]]:
    """All cues of one object (see :data:`CUE_ORDER`)."""
    return {'colour': colour_cue(boxes, rles, frame_paths, box_masks),
            'size': size_cue(boxes, width, height),
            'position': position_cue(boxes, width),
            'motion': motion_cue(boxes, width, height)}


def distinguishing_cues(cues: Dict[str, Optional[str]], peers: List[Dict[str, Optional[str]]],
                        allowed: Sequence[str] = CUE_ORDER) -> Optional[List[str]]:
    """Smallest set of cue names that tells an object from all its peers.

    Args:
        cues: the object's cues.
        peers: cues of the other objects with the same noun.
        allowed: cue names that may be used, in order of preference.

    Returns:
        The cue names (in :data:`CUE_ORDER`), ``[]`` when there are no peers,
        or None when no allowed combination tells the object apart.
    """
    usable = [name for name in allowed if cues.get(name) is not None]
    for size in range(len(usable) + 1):
        for chosen in combinations(usable, size):
            if all(any(peer.get(name) != cues[name] for name in chosen) for peer in peers):
                return [name for name in CUE_ORDER if name in chosen]
    return None
