"""A tiny VidOR-format dataset written in-process: moving rectangles in mp4 files.

Each object is a rectangle of one colour moving at a constant velocity; its
VidOR box on each frame is exactly the drawn rectangle, so a test can compute
the expected masks from the boxes alone.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional

import cv2
import numpy as np

WIDTH, HEIGHT, FPS, FRAME_COUNT = 160, 96, 30, 36


def box_at(obj: dict, fid: int) -> Optional[List[float]]:
    """Box ``[xmin, ymin, xmax, ymax]`` of ``obj`` on frame ``fid`` (None: absent)."""
    first, last = obj.get('frames', (0, FRAME_COUNT))
    if not first <= fid < last:
        return None
    dx, dy = obj.get('velocity', (0, 0))
    x0, y0, x1, y1 = obj['box']
    return [x0 + dx * fid, y0 + dy * fid, x1 + dx * fid, y1 + dy * fid]


def write_vidor_video(root: str, split: str, group: str, video_id: str, objects: List[dict],
                      relations: List[dict], frame_count: int = FRAME_COUNT,
                      video_bytes: Optional[bytes] = None, write_video: bool = True) -> dict:
    """Write one annotation JSON and (unless told otherwise) its mp4.

    Args:
        objects: ``{tid, category, colour (RGB), box, velocity, frames}``; an
            object with ``"no_boxes": True`` is listed without trajectory.
        relations: VidOR ``relation_instances`` entries.
        video_bytes: written instead of an encoded video (a corrupt file).

    Returns:
        The annotation dict.
    """
    trajectories = []
    for fid in range(frame_count):
        frame = []
        for obj in objects:
            box = None if obj.get('no_boxes') else box_at(obj, fid)
            if box is not None:
                frame.append({'tid': obj['tid'], 'bbox': dict(zip(
                    ('xmin', 'ymin', 'xmax', 'ymax'), box)), 'generated': 0})
        trajectories.append(frame)
    annotation = {
        'version': 'VERSION 1.0', 'video_id': video_id, 'video_hash': 'x' * 8,
        'video_path': f'{group}/{video_id}.mp4', 'frame_count': frame_count, 'fps': FPS,
        'width': WIDTH, 'height': HEIGHT,
        'subject/objects': [{'tid': o['tid'], 'category': o['category']} for o in objects
                            if not o.get('unlisted')],
        'trajectories': trajectories, 'relation_instances': relations}
    anno_dir = osp.join(root, 'annotation', split, group)
    os.makedirs(anno_dir, exist_ok=True)
    with open(osp.join(anno_dir, f'{video_id}.json'), 'w') as file:
        json.dump(annotation, file)
    video_dir = osp.join(root, 'video', group)
    os.makedirs(video_dir, exist_ok=True)
    path = osp.join(video_dir, f'{video_id}.mp4')
    if video_bytes is not None:
        with open(path, 'wb') as file:
            file.write(video_bytes)
    elif write_video:
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), FPS, (WIDTH, HEIGHT))
        for fid in range(frame_count):
            image = np.full((HEIGHT, WIDTH, 3), 128, np.uint8)
            for obj in objects:
                box = box_at(obj, fid)
                if box is not None:
                    x0, y0, x1, y1 = (int(round(v)) for v in box)
                    cv2.rectangle(image, (x0, y0), (x1 - 1, y1 - 1), obj['colour'][::-1], -1)
            writer.write(image)
        writer.release()
    return annotation


def relation(subject: int, predicate: str, obj: int, begin: int = 0,
             end: int = FRAME_COUNT) -> dict:
    return {'subject_tid': subject, 'object_tid': obj, 'predicate': predicate,
            'begin_fid': begin, 'end_fid': end}


RED, BLUE, GREEN, YELLOW, WHITE = (220, 30, 30), (30, 60, 220), (30, 180, 50), (230, 220, 40), \
    (245, 245, 245)

#: The three videos of the clean sample, by id: (group, objects, relations).
SAMPLE: Dict[str, tuple] = {
    # An adult pushes a baby walker to the right; a dog sits still, related to nothing.
    '1001': ('0000', [
        dict(tid=0, category='adult', colour=RED, box=(10, 20, 40, 80), velocity=(1, 0)),
        dict(tid=1, category='baby_walker', colour=BLUE, box=(42, 50, 62, 80), velocity=(1, 0)),
        dict(tid=2, category='dog', colour=GREEN, box=(130, 60, 150, 80)),
    ], [relation(0, 'push', 1), relation(1, 'in_front_of', 0, 0, 20)]),
    # A child kicks a ball that a dog chases; a car (present from frame 10) has no relation.
    '1002': ('0000', [
        dict(tid=0, category='child', colour=YELLOW, box=(10, 30, 30, 80)),
        dict(tid=1, category='ball/sports_ball', colour=WHITE, box=(32, 70, 42, 80),
             velocity=(2, 0)),
        dict(tid=2, category='dog', colour=GREEN, box=(100, 60, 120, 80), velocity=(-1, 0)),
        dict(tid=3, category='car', colour=BLUE, box=(120, 5, 155, 30), frames=(10, 36)),
    ], [relation(0, 'kick', 1, 0, 12), relation(2, 'chase', 1, 5, 36),
        relation(1, 'towards', 2, 0, 36)]),
    # Two adults push one car (one-to-many); the left adult watches the right one.
    '1003': ('0001', [
        dict(tid=0, category='adult', colour=RED, box=(5, 20, 25, 80)),
        dict(tid=1, category='adult', colour=GREEN, box=(120, 20, 140, 80)),
        dict(tid=2, category='car', colour=BLUE, box=(40, 40, 110, 80)),
    ], [relation(0, 'push', 2), relation(1, 'push', 2), relation(0, 'watch', 1, 0, 30)]),
}


def make_sample(root: str, split: str = 'training', video_ids=None) -> Dict[str, dict]:
    """Write the clean sample; returns ``{video_id: annotation}``."""
    written = {}
    for video_id, (group, objects, relations) in SAMPLE.items():
        if video_ids is None or video_id in video_ids:
            written[video_id] = write_vidor_video(root, split, group, video_id, objects,
                                                  relations)
    return written
