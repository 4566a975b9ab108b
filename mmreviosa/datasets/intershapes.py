"""InterShapes: a synthetic InterRVOS benchmark of interacting coloured shapes.

Each video shows 3-5 shapes on a textured background (stripes + noise).  One or
two pairs of shapes take part in a directional interaction whose motion tells
the actor from the target; the other shapes are distractors that share colour
or shape with a participant and often both (an "appearance twin": same colour,
shape and size, but not in the interaction), so that only the motion and the
verb tell which of the look-alikes is meant.

Vocabulary (``VOCABULARY``, the 70 words any expression can use): colours
red green blue yellow purple; shapes circle square triangle star; sizes small
big; directions left right up down; template words after approached approaching around
away behind being by chased chasing circled circling closer crashes does
followed following forward from getting goes going heading hit hitting in into
is knocked leading leaves motionless move moves moving not orbited orbiting
place pushed pushes pushing runs staying stays still strikes struck that the
to toward trails video which.
Interactions (``INTERACTIONS``, 3 active + 3 passive templates each, 42 in all):
    pushing (actor meets a static target, then both move, target ahead),
    hitting (actor rushes into the target and recoils, target flies off),
    chasing (target moves away, actor follows faster and closes the gap),
    following (actor retraces the target's curved path a fixed lag behind),
    approaching (actor slows to a stop next to a static target),
    circling (actor orbits a static target),
    leaving (actor starts next to a static target and moves away).
Per interaction two active expressions are written, each with its role-swapped
passive inverse ("the blue square being pushed by the red circle": actor = the
blue square, target = the red circle); the two point to each other through
``pair_exp_id``.  Three non-interaction expressions per video describe
appearance and motion only (9 motion/static templates + 2 appearance ones) and
have ``target_obj_id == []``; their referent is every shape that fits the
words, so a few refer to several shapes (one-to-many).

Masks are the *visible* region of each shape: shapes are drawn in a random
order per video and later shapes occlude earlier ones; a frame where a shape is
fully hidden has a ``null`` mask.  Shapes may touch or overlap, but distractors
are placed to keep clear of others (and never to approach or escort a
participant), so occlusion is light.  Extra fields beyond the InterRVOS format:
video ``objects`` ({obj_id: colour, shape, size, anno_id, motion}) and
``interactions``; expression ``interaction``, ``voice``, ``actor_desc``,
``target_desc``, ``motion``.

Splits: ``--num-videos N`` is the number of *training* videos; valid and test
get ``max(1, round(N / 10))`` each.  Every video draws its own random stream
from ``(seed, split, index)``, so the output of a seed is byte-identical
whatever the number of workers, and splits never share a video.  Defaults:
64 x 64 frames (shape radius 5.4 or 8 px, so an 8 px patch grid sees every
shape) and 8 frames per video (enough for a circling actor to go round).

Statistics of ``--num-videos 1000 --seed 0`` (train split: 1000 videos, 8000
frames), from :func:`split_statistics`: 3.87 shapes and 1.11 interactions per
video; 7.32 expressions per video, 60.5% of them with an interaction; 60.5% of
the interaction expressions and 38.1% of the others are ambiguous by
appearance alone (the shapes matching the named colour / shape / size are not
exactly the referents); 12.5% of the non-interaction expressions refer to
several shapes; no shape-frame is fully hidden and 1.6% lose over 15% of their
area to occlusion.  Generation takes about 17 ms of one CPU core per video
(1000 videos in about 18 s); ``--workers`` spreads it over processes.
"""
import json
import os
import os.path as osp
from multiprocessing import Pool
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from pycocotools import mask as mask_utils

#: RGB fill colour of each colour word.
COLORS = {'red': (225, 35, 35), 'green': (35, 185, 55), 'blue': (40, 75, 235),
          'yellow': (240, 215, 30), 'purple': (165, 55, 205)}
SHAPES = ('circle', 'square', 'triangle', 'star')
#: Shape radius as a fraction of the frame size.
SIZES = {'small': 0.085, 'big': 0.125}
DIRECTIONS = ('left', 'right', 'up', 'down')

#: verb -> (active templates, passive templates); ``{a}`` is the actor.
INTERACTIONS = {
    'pushing': (('the {a} pushing the {b}', 'the {a} that pushes the {b}',
                 'the {a} which is pushing the {b} forward'),
                ('the {a} being pushed by the {b}', 'the {a} that is pushed by the {b}',
                 'the {a} which the {b} pushes')),
    'hitting': (('the {a} hitting the {b}', 'the {a} that crashes into the {b}',
                 'the {a} which strikes the {b}'),
                ('the {a} being hit by the {b}', 'the {a} that is struck by the {b}',
                 'the {a} knocked away by the {b}')),
    'chasing': (('the {a} chasing the {b}', 'the {a} that runs after the {b}',
                 'the {a} which is chasing the {b}'),
                ('the {a} being chased by the {b}', 'the {a} that is chased by the {b}',
                 'the {a} that the {b} is chasing')),
    'following': (('the {a} following the {b}', 'the {a} that trails behind the {b}',
                   'the {a} which moves after the {b}'),
                  ('the {a} being followed by the {b}', 'the {a} that is followed by the {b}',
                   'the {a} leading the {b}')),
    'approaching': (('the {a} approaching the {b}', 'the {a} that moves toward the {b}',
                     'the {a} getting closer to the {b}'),
                    ('the {a} being approached by the {b}', 'the {a} that the {b} moves toward',
                     'the {a} that is approached by the {b}')),
    'circling': (('the {a} circling the {b}', 'the {a} that moves around the {b}',
                  'the {a} orbiting the {b}'),
                 ('the {a} being circled by the {b}', 'the {a} that the {b} moves around',
                  'the {a} orbited by the {b}')),
    'leaving': (('the {a} moving away from the {b}', 'the {a} that leaves the {b}',
                 'the {a} going away from the {b}'),
                ('the {a} being left by the {b}', 'the {a} that the {b} moves away from',
                 'the {a} that is left behind by the {b}')),
}
MOTION_TEMPLATES = ('the {a} moving {d}', 'the {a} that goes {d}', 'the {a} heading {d}')
STATIC_TEMPLATES = ('the {a} that is not moving', 'the {a} that stays in place',
                    'the {a} staying still', 'the motionless {a}', 'the still {a}',
                    'the {a} that does not move')
APPEARANCE_TEMPLATES = ('the {a}', 'the {a} in the video')


def _template_words() -> set:
    templates = [t for act, pas in INTERACTIONS.values() for t in act + pas]
    templates += [*MOTION_TEMPLATES, *STATIC_TEMPLATES, *APPEARANCE_TEMPLATES]
    words = set()
    for template in templates:
        words.update(template.replace('{a}', ' ').replace('{b}', ' ').replace('{d}', ' ').split())
    return words


#: Every word that can appear in an InterShapes expression.
VOCABULARY = frozenset(_template_words() | set(COLORS) | set(SHAPES) | set(SIZES)
                       | set(DIRECTIONS))
SPLITS = ('train', 'valid', 'test')
_SPLIT_SEED = {'train': 0, 'valid': 1, 'test': 2}


def split_sizes(num_train_videos: int) -> Dict[str, int]:
    """Number of videos per split for ``--num-videos num_train_videos``."""
    if num_train_videos < 1:
        raise ValueError(f'num_videos must be >= 1, got {num_train_videos}')
    held_out = max(1, int(round(num_train_videos / 10)))
    return {'train': num_train_videos, 'valid': held_out, 'test': held_out}


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


# ---------------------------------------------------------------------- expressions
def describe(desc: dict) -> str:
    """Noun phrase of a description dict, e.g. {'size': 'big', 'shape': 'star'} -> 'big star'."""
    return ' '.join(desc[k] for k in ('size', 'color', 'shape') if desc.get(k))


def matching_objects(objects: Dict[str, dict], desc: dict) -> List[int]:
    """Ids of the objects (``objects`` as in the video entry) whose looks fit ``desc``."""
    return sorted(int(i) for i, o in objects.items()
                  if all(o[k] == desc[k] for k in ('color', 'shape', 'size') if desc.get(k)))


def parse_expression(text: str) -> Tuple[dict, Optional[dict]]:
    """Descriptions of the actor and (for two noun phrases) the target in ``text``.

    The actor is always the first noun phrase in InterShapes templates; each
    phrase is a shape word and the size/colour words just before it.
    """
    words = text.split()
    phrases = []
    for i, word in enumerate(words):
        if word in SHAPES:
            desc = dict(color=None, shape=word, size=None)
            j = i - 1
            while j >= 0 and (words[j] in COLORS or words[j] in SIZES):
                desc['color' if words[j] in COLORS else 'size'] = words[j]
                j -= 1
            phrases.append(desc)
    if not phrases or len(phrases) > 2:
        raise ValueError(f'Expected one or two shape phrases in {text!r}, found {len(phrases)}')
    return phrases[0], (phrases[1] if len(phrases) == 2 else None)


def _desc(obj: dict, keys: Sequence[str]) -> dict:
    return {k: (obj[k] if k in keys else None) for k in ('color', 'shape', 'size')}


def _interaction_desc(rng, obj, objects) -> dict:
    roll = rng.random()
    if roll < 0.15 and len(matching_objects(objects, _desc(obj, ['shape']))) == 1:
        return _desc(obj, ['shape'])
    return _desc(obj, ['size', 'color', 'shape'] if roll < 0.35 else ['color', 'shape'])


def build_expressions(rng: np.random.Generator, objects: Dict[str, dict],
                      interactions: List[dict], num_plain: int = 3) -> List[dict]:
    """Expressions of one video (without anno ids).

    Each has ``exp``, ``obj_id``, ``target_obj_id``, ``pair`` (index into the
    returned list or None) and the descriptive extras.
    """
    exps = []
    for inter in interactions:
        actor, target = (objects[str(inter[k])] for k in ('actor_obj_id', 'target_obj_id'))
        active, passive = INTERACTIONS[inter['verb']]
        for t_act, t_pas in zip(rng.choice(active, 2, replace=False),
                                rng.choice(passive, 2, replace=False)):
            d_act = _interaction_desc(rng, actor, objects)
            d_tar = _interaction_desc(rng, target, objects)
            base = len(exps)
            exps.append(dict(exp=t_act.format(a=describe(d_act), b=describe(d_tar)),
                             obj_id=[inter['actor_obj_id']], target_obj_id=[inter['target_obj_id']],
                             pair=base + 1, interaction=inter['verb'], voice='active',
                             actor_desc=d_act, target_desc=d_tar, motion=None))
            exps.append(dict(exp=t_pas.format(a=describe(d_tar), b=describe(d_act)),
                             obj_id=[inter['target_obj_id']], target_obj_id=[inter['actor_obj_id']],
                             pair=base, interaction=inter['verb'], voice='passive',
                             actor_desc=d_tar, target_desc=d_act, motion=None))
    said = set()
    moving = [o for o in objects.values() if o['motion'] is not None]
    for _ in range(20 * num_plain):
        if len(exps) - 4 * len(interactions) >= num_plain:
            break
        if moving and rng.random() < 0.7:
            obj = moving[rng.integers(len(moving))]
            options = [['shape'], ['color', 'shape'], ['size', 'color', 'shape'], ['size', 'shape']]
            keys = options[rng.choice(4, p=[0.25, 0.45, 0.15, 0.15])]
            # Mostly words that also fit a look-alike with another motion.
            need_motion = [k for k in options if any(
                objects[str(i)]['motion'] != obj['motion']
                for i in matching_objects(objects, _desc(obj, k)))]
            if need_motion and rng.random() < 0.7:
                keys = need_motion[rng.integers(len(need_motion))]
            desc, motion = _desc(obj, keys), obj['motion']
            template = (STATIC_TEMPLATES if motion == 'static' else MOTION_TEMPLATES)
            text = rng.choice(template).format(a=describe(desc), d=motion)
            referents = [i for i in matching_objects(objects, desc)
                         if objects[str(i)]['motion'] == motion]
        else:
            obj = list(objects.values())[rng.integers(len(objects))]
            options = [['shape'], ['color', 'shape'], ['size', 'shape'], ['size', 'color', 'shape']]
            unique = [k for k in options if len(matching_objects(objects, _desc(obj, k))) == 1]
            if not unique:
                continue  # an appearance twin: looks alone cannot name it
            desc, motion = _desc(obj, unique[rng.integers(len(unique))]), None
            text = rng.choice(APPEARANCE_TEMPLATES).format(a=describe(desc))
            referents = matching_objects(objects, desc)
        key = (tuple(referents), motion is None)
        if key in said:
            continue  # same referents named the same way: no new information
        said.add(key)
        exps.append(dict(exp=text, obj_id=referents, target_obj_id=[], pair=None,
                         interaction=None, voice=None, actor_desc=desc, target_desc=None,
                         motion=motion))
    return exps


# ----------------------------------------------------------------------------- I/O
def encode_mask(mask: np.ndarray) -> Optional[dict]:
    """COCO RLE of an (H, W) bool mask with ``counts`` as str; None if empty."""
    if not mask.any():
        return None
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {'size': [int(v) for v in rle['size']], 'counts': rle['counts'].decode('ascii')}


def generate_video(split: str, index: int, seed: int, frame_size: int = 64,
                   num_frames: int = 8, out_dir: Optional[str] = None
                   ) -> Tuple[str, dict, Dict[str, list]]:
    """Generate one video; write its frames under ``out_dir/JPEGImages`` if given.

    Returns:
        video_id, its ``meta_expressions`` entry, and its ``mask_dict`` items.
    """
    if num_frames < 4 or frame_size < 32:
        raise ValueError(f'Need num_frames >= 4 and frame_size >= 32, got num_frames='
                         f'{num_frames}, frame_size={frame_size}')
    rng = np.random.default_rng([seed, _SPLIT_SEED[split], index])
    video_id = f'{split}_{index:05d}'
    placed, interactions = sample_scene(rng, frame_size, num_frames)
    frames, visible = render_video(placed, rng, frame_size)
    frame_names = [f'{t:05d}' for t in range(num_frames)]
    objects, mask_items = {}, {}
    for obj in sorted(placed, key=lambda o: o['obj_id']):
        anno_id = index * 10 + obj['obj_id']
        objects[str(obj['obj_id'])] = dict(
            color=obj['color'], shape=obj['shape'], size=obj['size'], anno_id=anno_id,
            motion=motion_label(obj['traj'], frame_size))
        mask_items[str(anno_id)] = [encode_mask(m) for m in visible[obj['obj_id']]]
    expressions = {}
    for exp_id, exp in enumerate(build_expressions(rng, objects, interactions)):
        pair, actor_ids, target_ids = exp.pop('pair'), exp.pop('obj_id'), exp.pop('target_obj_id')
        expressions[str(exp_id)] = dict(
            exp=exp.pop('exp'), obj_id=actor_ids,
            anno_id=[objects[str(i)]['anno_id'] for i in actor_ids],
            target_obj_id=target_ids,
            target_anno_id=[objects[str(i)]['anno_id'] for i in target_ids],
            pair_exp_id=None if pair is None else str(pair), **exp)
    if out_dir is not None:
        frame_dir = osp.join(out_dir, 'JPEGImages', video_id)
        os.makedirs(frame_dir, exist_ok=True)
        for name, frame in zip(frame_names, frames):
            cv2.imwrite(osp.join(frame_dir, f'{name}.jpg'), frame[..., ::-1],
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
    entry = dict(frames=frame_names, expressions=expressions, objects=objects,
                 interactions=interactions)
    return video_id, entry, mask_items


def _generate_one(args):
    return generate_video(*args)


def generate_split(out_dir: str, split: str, num_videos: int, seed: int, frame_size: int = 64,
                   num_frames: int = 8, workers: int = 1, progress: bool = True) -> dict:
    """Write one split to ``out_dir/split``; returns its :func:`split_statistics`."""
    if split not in _SPLIT_SEED:
        raise KeyError(f'Unknown split {split!r}; expected one of {SPLITS}')
    split_dir = osp.join(out_dir, split)
    os.makedirs(split_dir, exist_ok=True)
    jobs = [(split, i, seed, frame_size, num_frames, split_dir) for i in range(num_videos)]
    videos, mask_dict = {}, {}
    pool = Pool(workers) if workers > 1 else None
    results = pool.imap(_generate_one, jobs, chunksize=16) if pool else map(_generate_one, jobs)
    if progress:
        from tqdm import tqdm
        results = tqdm(results, total=num_videos, desc=f'InterShapes {split}')
    for video_id, entry, mask_items in results:
        videos[video_id] = entry
        mask_dict.update(mask_items)
    if pool:
        pool.close()
        pool.join()
    meta = {'videos': videos}
    for name, content in (('meta_expressions.json', meta), ('mask_dict.json', mask_dict)):
        with open(osp.join(split_dir, name), 'w') as f:
            json.dump(content, f, separators=(',', ':'))
    return split_statistics(meta, mask_dict)


def generate_intershapes(out: str, num_videos: int, seed: int = 0, frame_size: int = 64,
                         num_frames: int = 8, workers: int = 1, progress: bool = True
                         ) -> Dict[str, dict]:
    """Write train/valid/test under ``out``; ``num_videos`` training videos (see module doc)."""
    return {split: generate_split(out, split, count, seed, frame_size, num_frames, workers,
                                  progress)
            for split, count in split_sizes(num_videos).items()}


def split_statistics(meta: dict, mask_dict: Dict[str, list]) -> dict:
    """Counts and shares of a split, measured from its JSON content.

    Returns:
        dict: ``videos``, ``frames``, ``objects_per_video``,
        ``interactions_per_video``, ``expressions_per_video``,
        ``interaction_share`` (of the expressions), ``ambiguous_interaction_share``
        (interaction expressions where the shapes that match the named looks
        differ from the actor or the target), ``ambiguous_plain_share`` (the
        same for the others), ``one_to_many_share`` (non-interaction
        expressions with several referents), ``hidden_mask_share`` (null
        shape-frames) and ``expressions_per_verb``.
    """
    videos = meta['videos'].values()
    num_videos = max(len(videos), 1)
    inter, plain, ambiguous, plain_ambiguous, many = 0, 0, 0, 0, 0
    per_verb = {verb: 0 for verb in INTERACTIONS}
    for video in videos:
        for exp in video['expressions'].values():
            if exp['target_obj_id']:
                inter += 1
                per_verb[exp['interaction']] += 1
                oracle = (matching_objects(video['objects'], exp['actor_desc']),
                          matching_objects(video['objects'], exp['target_desc']))
                ambiguous += oracle != (sorted(exp['obj_id']), sorted(exp['target_obj_id']))
            else:
                plain += 1
                many += len(exp['obj_id']) > 1
                plain_ambiguous += (matching_objects(video['objects'], exp['actor_desc'])
                                    != sorted(exp['obj_id']))
    masks = [m for rles in mask_dict.values() for m in rles]
    num_exps = max(inter + plain, 1)
    return dict(
        videos=len(videos), frames=sum(len(v['frames']) for v in videos),
        objects_per_video=sum(len(v['objects']) for v in videos) / num_videos,
        interactions_per_video=sum(len(v['interactions']) for v in videos) / num_videos,
        expressions_per_video=(inter + plain) / num_videos,
        interaction_share=inter / num_exps,
        ambiguous_interaction_share=ambiguous / max(inter, 1),
        ambiguous_plain_share=plain_ambiguous / max(plain, 1),
        one_to_many_share=many / max(plain, 1),
        hidden_mask_share=sum(m is None for m in masks) / max(len(masks), 1),
        expressions_per_verb=per_verb)
