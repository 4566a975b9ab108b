"""InterShapes scenes: interaction trajectories, distractor placement and rendering."""
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .language import COLORS, INTERACTIONS, SHAPES, SIZES


# --------------------------------------------------------------------------- motion
def motion_label(traj: np.ndarray, frame_size: int) -> Optional[str]:
    """Word for a trajectory: 'static', a direction, or None if neither fits.

    Args:
        traj: (T, 2) centre positions (x, y) in pixels; y grows downwards.
    """
    path = np.linalg.norm(np.diff(traj, axis=0), axis=1).sum()
    if path < 0.03 * frame_size:
        return 'static'
    dx, dy = traj[-1] - traj[0]
    net = np.hypot(dx, dy)
    if net < 0.15 * frame_size or net < 0.85 * path:
        return None
    if abs(dx) > 2.14 * abs(dy):  # within 25 degrees of the axis
        return 'right' if dx > 0 else 'left'
    if abs(dy) > 2.14 * abs(dx):
        return 'down' if dy > 0 else 'up'
    return None


def _pair_trajectories(verb: str, rng: np.random.Generator, contact: float, size: int,
                       num_frames: int) -> Tuple[np.ndarray, np.ndarray]:
    """Actor and target (T, 2) trajectories of ``verb``, target starting at the origin."""
    s = np.linspace(0.0, 1.0, num_frames)[:, None]
    angle = rng.uniform(0, 2 * np.pi)
    u = np.array([np.cos(angle), np.sin(angle)])
    w = np.array([-u[1], u[0]])
    zero = np.zeros_like(s)
    if verb in ('pushing', 'hitting'):
        tc = rng.uniform(0.3, 0.45) if verb == 'pushing' else rng.uniform(0.4, 0.5)
        gap = (rng.uniform(0.15, 0.25) if verb == 'pushing' else rng.uniform(0.2, 0.28)) * size
        before = np.clip(s / tc, 0, 1)
        after = np.clip((s - tc) / (1 - tc), 0, 1)
        actor = (-(contact + gap) + gap * before) * u
        if verb == 'pushing':
            target = after * rng.uniform(0.2, 0.3) * size * u
            actor = actor + target  # moves on with the target, in contact behind it
        else:
            target = after * rng.uniform(0.25, 0.35) * size * u
            actor = actor - after * 0.06 * size * u  # recoils after the hit
        return actor, target
    if verb == 'chasing':
        run, gap = rng.uniform(0.2, 0.3) * size, rng.uniform(0.2, 0.28) * size
        target = s * run * u
        return (-(contact + gap) + s * (run + 0.85 * gap)) * u, target
    if verb == 'following':
        length = rng.uniform(0.3, 0.45) * size
        bend = rng.uniform(0.06, 0.12) * size * rng.choice([-1, 1])
        lag = (contact + 0.1 * size) / length

        def path(tau):
            return tau * length * u + bend * np.sin(np.pi * tau) * w
        return path(s - lag), path(s)
    if verb == 'approaching':
        gap = rng.uniform(0.25, 0.35) * size
        ease = 1 - (1 - s) ** 2  # slows down as it arrives
        return (-(contact + 0.08 * size + gap) + ease * gap) * u, zero * u
    if verb == 'circling':
        radius = contact + rng.uniform(0.08, 0.14) * size
        phase = angle + rng.choice([-1, 1]) * 2 * np.pi * rng.uniform(0.75, 1.0) * s
        return radius * np.concatenate([np.cos(phase), np.sin(phase)], axis=1), zero * u
    if verb == 'leaving':
        gap = rng.uniform(0.25, 0.35) * size
        return (-(contact + 0.02 * size) - s ** 1.5 * gap) * u, zero * u
    raise KeyError(f'Unknown interaction {verb!r}; expected one of {sorted(INTERACTIONS)}')


# ------------------------------------------------------------------------ rendering
def shape_mask(shape: str, center: Sequence[float], radius: float, frame_size: int) -> np.ndarray:
    """(S, S) bool mask of one shape (sub-pixel accurate via cv2's ``shift``)."""
    canvas = np.zeros((frame_size, frame_size), np.uint8)
    scale = 16  # 4 fractional bits
    cx, cy = center
    if shape == 'circle':
        cv2.circle(canvas, (int(round(cx * scale)), int(round(cy * scale))),
                   int(round(radius * scale)), 1, -1, cv2.LINE_8, 4)
        return canvas.astype(bool)
    if shape == 'square':
        half = 0.85 * radius
        pts = [(-half, -half), (half, -half), (half, half), (-half, half)]
    elif shape == 'triangle':
        pts = [(1.35 * radius * np.cos(a), 1.35 * radius * np.sin(a))
               for a in (-np.pi / 2, np.pi / 6, 5 * np.pi / 6)]
    elif shape == 'star':
        pts = [((1.3 if k % 2 == 0 else 0.55) * radius * np.cos(-np.pi / 2 + k * np.pi / 5),
                (1.3 if k % 2 == 0 else 0.55) * radius * np.sin(-np.pi / 2 + k * np.pi / 5))
               for k in range(10)]
    else:
        raise KeyError(f'Unknown shape {shape!r}; expected one of {SHAPES}')
    poly = np.round((np.array(pts) + [cx, cy]) * scale).astype(np.int32)
    cv2.fillPoly(canvas, [poly], 1, cv2.LINE_8, 4)
    return canvas.astype(bool)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """(S, S, 3) float textured background: greyish base, stripes and noise."""
    base = rng.uniform(95, 150) + rng.uniform(-12, 12, size=3)
    yy, xx = np.mgrid[0:size, 0:size] / size
    angle, cycles = rng.uniform(0, np.pi), rng.uniform(2, 6)
    stripes = np.sin(2 * np.pi * cycles * (xx * np.cos(angle) + yy * np.sin(angle)))
    image = base + rng.uniform(12, 28) * stripes[..., None]
    return image + rng.normal(0, 8, size=(size, size, 1)) + rng.normal(0, 3, size=(size, size, 3))


def render_video(objects: List[dict], rng: np.random.Generator, size: int
                 ) -> Tuple[np.ndarray, Dict[int, np.ndarray]]:
    """Draw the shapes in list order (later ones on top).

    Returns:
        frames: (T, S, S, 3) uint8 RGB.
        visible: obj_id -> (T, S, S) bool visible masks.
    """
    num_frames = len(objects[0]['traj'])
    background = _background(rng, size).astype(np.float32)
    visible = {o['obj_id']: np.zeros((num_frames, size, size), bool) for o in objects}
    fills = [np.array(COLORS[o['color']]) + rng.uniform(-15, 15, 3) for o in objects]
    # Sensor noise, fresh in every frame, on shapes and background alike.
    images = 4 * rng.standard_normal((num_frames, size, size, 3), dtype=np.float32)
    for t in range(num_frames):
        image = np.array(background)
        occupied = np.zeros((size, size), bool)
        masks = [shape_mask(o['shape'], o['traj'][t], o['radius'], size) for o in objects]
        for fill, mask in zip(fills, masks):
            image[mask] = fill
        for obj, mask in zip(reversed(objects), reversed(masks)):
            visible[obj['obj_id']][t] = mask & ~occupied
            occupied |= mask
        images[t] += image
    frames = np.clip(images, 0, 255).astype(np.uint8)
    return frames, visible


# ---------------------------------------------------------------------------- scene
def _appearance(rng, exclude=(), **fixed) -> dict:
    """Random colour/shape/size with ``fixed`` values, avoiding (colour, shape) in ``exclude``."""
    for _ in range(100):
        look = dict(dict(color=str(rng.choice(list(COLORS))), shape=str(rng.choice(SHAPES)),
                         size=str(rng.choice(list(SIZES)))), **fixed)
        if (look['color'], look['shape']) not in exclude:
            break
    return look


def _min_clearance(traj, radius, placed) -> float:
    """Smallest centre distance to a placed shape over time, in units of the radii sum."""
    if not placed:
        return np.inf
    others = np.stack([o['traj'] for o in placed])  # (N, T, 2)
    radii = np.array([o['radius'] for o in placed])[:, None]
    dist = np.hypot(*(traj[None] - others).transpose(2, 0, 1))  # (N, T)
    return float((dist / (radius + radii)).min())


def _fit_offset(rng, trajs, radii, size):
    """A random shift that keeps every trajectory inside the frame, or None."""
    lo = np.min([t.min(0) - r for t, r in zip(trajs, radii)], axis=0)
    hi = np.max([t.max(0) + r for t, r in zip(trajs, radii)], axis=0)
    room = size - 1 - (hi - lo)
    if np.any(room < 0):
        return None
    return rng.uniform(0, room) - lo


def _distractor_traj(rng, radius, size, num_frames):
    s = np.linspace(0, 1, num_frames)[:, None]
    kind = rng.random()
    if kind < 0.35:
        disp = np.zeros(2)
    else:
        dist = rng.uniform(0.2, 0.4) * size
        angle = (rng.integers(4) * np.pi / 2 if kind < 0.8 else rng.uniform(0, 2 * np.pi))
        disp = dist * np.array([np.cos(angle), np.sin(angle)])
    start = [rng.uniform(radius - min(0, d), size - 1 - radius - max(0, d)) for d in disp]
    return np.asarray(start) + s * disp


def sample_scene(rng: np.random.Generator, size: int, num_frames: int
                 ) -> Tuple[List[dict], List[dict]]:
    """Shapes (with trajectories) and interactions of one video.

    Returns:
        objects: dicts with obj_id, color, shape, size, radius, traj (T, 2), in draw order.
        interactions: dicts with verb, actor_obj_id, target_obj_id.
    """
    num_objects = int(rng.integers(3, 6))
    num_pairs = 2 if num_objects >= 4 and rng.random() < 0.3 else 1
    verbs = rng.choice(sorted(INTERACTIONS), size=num_pairs, replace=False)
    placed, interactions = [], []
    for verb in verbs:
        actor = _appearance(rng)
        target = _appearance(rng, exclude={(actor['color'], actor['shape'])})
        for look in (actor, target):
            look['radius'] = SIZES[look['size']] * size
        for _ in range(200 if not placed else 20):
            trajs = _pair_trajectories(str(verb), rng, 0.9 * (actor['radius'] + target['radius']),
                                       size, num_frames)
            offset = _fit_offset(rng, trajs, [actor['radius'], target['radius']], size)
            if offset is not None and min(_min_clearance(t + offset, o['radius'], placed)
                                          for t, o in zip(trajs, (actor, target))) > 1.0:
                break
        else:
            if not placed:
                raise RuntimeError(f'No room for a {verb} pair in a {size} px frame')
            continue  # no room for a second pair: drop it
        for obj, traj in zip((actor, target), trajs):
            placed.append(dict(obj, obj_id=len(placed) + 1, traj=traj + offset))
        interactions.append(dict(verb=str(verb), actor_obj_id=len(placed) - 1,
                                 target_obj_id=len(placed)))
    participants = list(placed)
    while len(placed) < num_objects:
        anchor = participants[rng.integers(len(participants))]
        roll = rng.random()
        if roll < 0.5:  # appearance twin: same colour, shape and size
            look = {k: anchor[k] for k in ('color', 'shape', 'size')}
        else:  # shares at most one of colour / shape with any participant
            key = 'color' if rng.random() < 0.5 else 'shape'
            look = _appearance(rng, {(p['color'], p['shape']) for p in participants},
                               **({key: anchor[key]} if roll < 0.7 else {}))
        look['radius'] = SIZES[look['size']] * size
        best, best_score = None, -np.inf
        for _ in range(60):
            traj = _distractor_traj(rng, look['radius'], size, num_frames)
            score = _min_clearance(traj, look['radius'], placed)
            # Distractors must not look like they approach a participant or
            # travel along with one: that would read as an interaction.
            others = np.stack([p['traj'] for p in participants])  # (P, T, 2)
            dist = np.hypot(*(traj[None] - others).transpose(2, 0, 1))  # (P, T)
            near = dist.max(1) / (look['radius'] + np.array([p['radius'] for p in participants]))
            moves = np.ptp(traj, axis=0).max() > 0
            if np.max(dist[:, 0] - dist[:, -1]) > 0.12 * size or (moves and near.min() < 2.5):
                score -= 10
            if score > best_score:
                best, best_score = traj, score
            if score > 0.9:  # may touch, may not cover
                break
        if best_score < 0.75 and len(placed) >= 3:
            break  # no clear room left: fewer shapes rather than a pile-up
        placed.append(dict(look, obj_id=len(placed) + 1, traj=best))
    order = rng.permutation(len(placed))
    return [placed[i] for i in order], interactions
