"""InterShapes words: colours, shapes, sizes, templates, and expressions built from them.

The expressions of a video name shapes by their looks (``describe``), and
:func:`parse_expression` / :func:`matching_objects` read those looks back, so
a baseline can tell which shapes the words alone point to.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

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


def describe(desc: dict) -> str:
    """Noun phrase of a description dict, e.g. {'size': 'big', 'shape': 'star'} -> 'big star'."""
    return ' '.join(desc[k] for k in ('size', 'color', 'shape') if desc.get(k))


def matching_objects(objects: Dict[str, dict], desc: dict) -> List[int]:
    """Ids of the objects (``objects`` as in the video entry) whose looks fit ``desc``."""
    return sorted(int(i) for i, o in objects.items()
                  if all(o[k] == desc[k] for k in ('color', 'shape', 'size') if desc.get(k)))


def appearance_ambiguous(objects: Dict[str, dict], obj_ids: Sequence[int]) -> bool:
    """Whether another shape has the colour and shape of one of ``obj_ids`` (size ignored).

    Such referents are *ambiguous by appearance*: words about looks alone
    cannot single them out, only motion or the interaction can. A shape that
    is itself among ``obj_ids`` (a one-to-many referent) does not count.
    Size is ignored: in 64 px frames the two sizes differ by under 3 px of
    radius (5.4 and 8), so a shape of the other size is still a look-alike.

    Args:
        objects: the video's ``objects`` ({obj_id: {colour, shape, ...}}).
        obj_ids: the referents (an expression's ``obj_id`` or
            ``target_obj_id``).

    Raises:
        KeyError: ``obj_ids`` is empty or names an object not in ``objects``.
    """
    referents = {int(i) for i in obj_ids}
    unknown = referents - {int(i) for i in objects}
    if not referents or unknown:
        raise KeyError(f'expected referent ids among the objects {sorted(map(int, objects))}, '
                       f'got {sorted(referents)}')
    looks = {(objects[str(i)]['color'], objects[str(i)]['shape']) for i in referents}
    return any((obj['color'], obj['shape']) in looks
               for i, obj in objects.items() if int(i) not in referents)


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
