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
exactly the referents; :func:`appearance_ambiguous` asks instead whether another
shape has a referent's colour and shape, whatever the words say); 12.5% of the
non-interaction expressions refer to several shapes; no shape-frame is fully
hidden and 1.6% lose over 15% of their area to occlusion.  Generation takes
about 17 ms of one CPU core per video (1000 videos in about 18 s);
``--workers`` spreads it over processes.
"""
from .language import (APPEARANCE_TEMPLATES, COLORS, DIRECTIONS, INTERACTIONS, MOTION_TEMPLATES,
                       SHAPES, SIZES, STATIC_TEMPLATES, VOCABULARY, appearance_ambiguous,
                       build_expressions, describe, matching_objects, parse_expression)
from .scene import motion_label, render_video, sample_scene, shape_mask
from .writer import (SPLITS, generate_intershapes, generate_split, generate_video, split_sizes,
                     split_statistics)

__all__ = [
    'APPEARANCE_TEMPLATES', 'COLORS', 'DIRECTIONS', 'INTERACTIONS', 'MOTION_TEMPLATES', 'SHAPES',
    'SIZES', 'SPLITS', 'STATIC_TEMPLATES', 'VOCABULARY', 'appearance_ambiguous',
    'build_expressions', 'describe',
    'generate_intershapes', 'generate_split', 'generate_video',
    'matching_objects', 'motion_label', 'parse_expression', 'render_video', 'sample_scene',
    'shape_mask', 'split_sizes', 'split_statistics'
]
