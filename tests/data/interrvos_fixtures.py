"""Builders of tiny InterRVOS-format splits for the data tests.

Every object is an axis-aligned box per frame, so a test can compute the
expected masks by slicing (``box_mask``) independently of any RLE code.
Frames are grey with each object's box filled in its colour.
"""
import copy
import json
import os
import os.path as osp

import numpy as np

from mmreviosa.fileio import (MASK_FILE, encode_masks, write_jpeg, write_json_file,
                              write_video_file)

# video_id -> frame size, object boxes per frame ((y0, y1, x0, x1) or None: absent),
# box colours (RGB) and expressions in the meta_expressions.json form.
INTERRVOS_SPEC = {
    'vid_a': dict(
        size=(24, 32),
        boxes={
            '10': [(2, 10, 3 + 2 * t, 11 + 2 * t) for t in range(4)],
            '11': [(12, 20, 18, 28)] * 4,
            '12': [(14, 22, 2, 8), (14, 22, 3, 9), None, None],
        },
        colors={'10': (220, 30, 30), '11': (30, 30, 220), '12': (30, 200, 30)},
        expressions={
            '0': dict(exp='the red square pushing the blue box', obj_id=[1], anno_id=[10],
                      target_obj_id=[2], target_anno_id=[11], pair_exp_id='1'),
            '1': dict(exp='the blue box being pushed by the red square', obj_id=[2],
                      anno_id=[11], target_obj_id=[1], target_anno_id=[10], pair_exp_id='0'),
            '2': dict(exp='the two squares on the left', obj_id=[1, 3], anno_id=[10, 12],
                      target_obj_id=[], target_anno_id=[], pair_exp_id=None),
        }),
    'vid_b': dict(
        size=(20, 30),
        boxes={'20': [(4, 12, 5, 15), (5, 13, 7, 17)]},
        colors={'20': (240, 240, 40)},
        # MeViS-style entry: no target fields, no pair id.
        expressions={'0': dict(exp='the yellow box moving right', obj_id=[1], anno_id=[20])}),
}

# The hand-made MeViS-format sample in tests/data/mevis_tiny (2 videos, actor only).
MEVIS_SPEC = {
    'mv_cat': dict(
        size=(16, 24),
        boxes={'1': [(2, 8, 2 + t, 9 + t) for t in range(3)], '2': [(9, 15, 14, 22)] * 3},
        colors={'1': (250, 120, 0), '2': (0, 120, 250)},
        expressions={
            '0': dict(exp='the cat moving right', obj_id=[0], anno_id=[1]),
            '1': dict(exp='both animals', obj_id=[0, 1], anno_id=[1, 2]),
        }),
    'mv_dog': dict(
        size=(16, 24),
        boxes={'3': [(3, 12, 4, 12), None]},
        colors={'3': (120, 250, 0)},
        expressions={'0': dict(exp='the dog', obj_id=[0], anno_id=[3])}),
}

BACKGROUND = 128


def frame_names(num_frames: int):
    return [f'{i:05d}' for i in range(num_frames)]


def box_mask(box, size) -> np.ndarray:
    """(H, W) bool mask of a box (y0, y1, x0, x1), or all False for None."""
    mask = np.zeros(size, dtype=bool)
    if box is not None:
        y0, y1, x0, x1 = box
        mask[y0:y1, x0:x1] = True
    return mask


def expected_masks(spec: dict, video_id: str, anno_ids, frame_inds) -> np.ndarray:
    """(T, H, W) bool union of the boxes of ``anno_ids`` on ``frame_inds``."""
    video = spec[video_id]
    out = np.zeros((len(frame_inds), *video['size']), dtype=bool)
    for row, t in enumerate(frame_inds):
        for anno in anno_ids:
            out[row] |= box_mask(video['boxes'][str(anno)][t], video['size'])
    return out


def render_frames(video: dict) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB frames of one spec video."""
    num_frames = len(next(iter(video['boxes'].values())))
    frames = np.full((num_frames, *video['size'], 3), BACKGROUND, dtype=np.uint8)
    for anno, boxes in video['boxes'].items():
        for t, box in enumerate(boxes):
            frames[t][box_mask(box, video['size'])] = video['colors'][anno]
    return frames


def write_split(root: str, spec: dict = None, as_video: bool = False,
                meta_name: str = 'meta_expressions.json', with_masks: bool = True) -> dict:
    """Write a split under ``root``; returns the spec used (a deep copy).

    Args:
        root: the split folder (created).
        spec: video specs (default ``INTERRVOS_SPEC``).
        as_video: write ``JPEGImages/<video>.mp4`` instead of JPEG folders.
        meta_name: file name of the expressions.
        with_masks: write ``mask_dict.json``.
    """
    spec = copy.deepcopy(INTERRVOS_SPEC if spec is None else spec)
    videos, mask_dict = {}, {}
    for video_id, video in spec.items():
        frames = render_frames(video)
        names = frame_names(len(frames))
        if as_video:
            os.makedirs(osp.join(root, 'JPEGImages'), exist_ok=True)
            write_video_file(frames, osp.join(root, 'JPEGImages', f'{video_id}.mp4'), fps=5)
        else:
            frame_dir = osp.join(root, 'JPEGImages', video_id)
            os.makedirs(frame_dir, exist_ok=True)
            for name, frame in zip(names, frames):
                write_jpeg(osp.join(frame_dir, f'{name}.jpg'), frame, quality=100)
        videos[video_id] = dict(frames=names, expressions=video['expressions'])
        for anno, boxes in video['boxes'].items():
            mask_dict[anno] = encode_masks(np.stack([box_mask(b, video['size']) for b in boxes]))
    write_json_file(osp.join(root, meta_name), dict(videos=videos))
    if with_masks:
        write_json_file(osp.join(root, MASK_FILE), mask_dict)
    return spec


def edit_json(path: str, edit) -> None:
    """Load a JSON file, apply ``edit(data)`` in place, write it back."""
    with open(path) as f:
        data = json.load(f)
    edit(data)
    write_json_file(path, data)
