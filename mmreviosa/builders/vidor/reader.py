"""Reading VidOR annotations (the videos are decoded by :mod:`mmreviosa.fileio`).

Layout (VidOR's release)::

    ROOT/annotation/<split>/<group>/<video_id>.json
    ROOT/video/<group>/<video_id>.mp4

An annotation holds ``video_id``, ``fps``, ``frame_count``, ``width``,
``height``, ``subject/objects`` (``[{tid, category}]``), ``trajectories`` (one
list per frame of ``{tid, bbox: {xmin, ymin, xmax, ymax}}``) and
``relation_instances`` (``subject_tid``, ``object_tid``, ``predicate``,
``begin_fid``, ``end_fid``; ``end_fid`` is exclusive, as in VidOR's own loader).

Bad input is handled here, once: boxes outside the frame are clipped (and
dropped when nothing is left), relations naming a tid without a trajectory are
dropped, relation spans beyond the video are clipped; each case is logged and
kept in :attr:`VidORVideo.issues` with the video id and tid.
"""
import glob
import json
import logging
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

logger = logging.getLogger(__name__)

Box = Tuple[float, float, float, float]  # (xmin, ymin, xmax, ymax), pixels


class VidORFormatError(ValueError):
    """An annotation file that does not follow the VidOR format."""


class VideoReadError(OSError):
    """A video file that is missing or cannot be decoded."""


@dataclass
class VidORRelation:
    """One relation instance; frames ``begin_fid <= f < end_fid``."""
    subject_tid: int
    object_tid: int
    predicate: str
    begin_fid: int
    end_fid: int


@dataclass
class VidORVideo:
    """A parsed, sanity-checked VidOR annotation.

    Attributes:
        boxes: ``{tid: {frame_id: (xmin, ymin, xmax, ymax)}}``, clipped to the
            frame; frames where the object is absent have no entry.
        relations: relations whose tids both have a trajectory, spans clipped.
        issues: human-readable notes about what was clipped or dropped.
    """
    video_id: str
    anno_path: str
    video_path: str
    fps: float
    frame_count: int
    width: int
    height: int
    categories: Dict[int, str]
    boxes: Dict[int, Dict[int, Box]]
    relations: List[VidORRelation]
    issues: List[str] = field(default_factory=list)

    def note(self, message: str) -> None:
        """Log ``message`` as a warning about this video and keep it."""
        text = f'video {self.video_id}: {message}'
        logger.warning(text)
        self.issues.append(text)


def list_annotation_files(vidor_root: str, split: str) -> List[str]:
    """Sorted annotation files ``ROOT/annotation/<split>/<group>/<id>.json``."""
    pattern = osp.join(vidor_root, 'annotation', split, '*', '*.json')
    files = sorted(glob.glob(pattern))
    if not files:
        raise FileNotFoundError(
            f'No VidOR annotation files match {pattern}; expected the VidOR layout '
            f'ROOT/annotation/<split>/<group>/<video_id>.json')
    return files


def _require(data: dict, key: str, kind, path: str):
    if key not in data:
        raise VidORFormatError(f'{path}: missing key "{key}"')
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise VidORFormatError(f'{path}: "{key}" must be {kind}, got {value!r:.60}')
    return value


def load_vidor_video(anno_path: str, vidor_root: str) -> VidORVideo:
    """Parse and check one VidOR annotation file.

    Args:
        anno_path: ``ROOT/annotation/<split>/<group>/<video_id>.json``.
        vidor_root: ``ROOT`` (videos are under ``ROOT/video``).

    Raises:
        VidORFormatError: unreadable JSON or missing / mistyped keys.
    """
    try:
        with open(anno_path, encoding='utf-8') as file:
            data = json.load(file)
    except (OSError, json.JSONDecodeError) as err:
        raise VidORFormatError(f'{anno_path}: cannot read the annotation JSON: {err}') from err
    if not isinstance(data, dict):
        raise VidORFormatError(f'{anno_path}: expected a JSON object')
    video_id = str(_require(data, 'video_id', (str, int), anno_path))
    fps = float(_require(data, 'fps', (int, float), anno_path))
    frame_count = int(_require(data, 'frame_count', int, anno_path))
    width = int(_require(data, 'width', int, anno_path))
    height = int(_require(data, 'height', int, anno_path))
    if fps <= 0 or frame_count <= 0 or width <= 0 or height <= 0:
        raise VidORFormatError(f'{anno_path}: fps, frame_count, width and height must be > 0')
    group = osp.basename(osp.dirname(anno_path))
    rel_video = data.get('video_path') or f'{group}/{video_id}.mp4'
    video = VidORVideo(
        video_id=video_id, anno_path=anno_path,
        video_path=osp.join(vidor_root, 'video', rel_video), fps=fps, frame_count=frame_count,
        width=width, height=height, categories={}, boxes={}, relations=[])
    for obj in _require(data, 'subject/objects', list, anno_path):
        try:
            video.categories[int(obj['tid'])] = str(obj['category'])
        except (KeyError, TypeError, ValueError) as err:
            raise VidORFormatError(
                f'{anno_path}: bad "subject/objects" entry {obj!r:.60}: {err}') from err
    _read_trajectories(video, _require(data, 'trajectories', list, anno_path))
    _read_relations(video, _require(data, 'relation_instances', list, anno_path))
    return video


def _read_trajectories(video: VidORVideo, trajectories: list) -> None:
    if len(trajectories) != video.frame_count:
        video.note(f'{len(trajectories)} trajectory frames for frame_count '
                   f'{video.frame_count}; frames beyond frame_count are ignored')
    clipped: Dict[int, int] = {}
    dropped: Dict[int, int] = {}
    unknown = set()
    for fid, frame in enumerate(trajectories[:video.frame_count]):
        for roi in frame:
            try:
                tid = int(roi['tid'])
                bbox = roi['bbox']
                box = tuple(float(bbox[k]) for k in ('xmin', 'ymin', 'xmax', 'ymax'))
            except (KeyError, TypeError, ValueError) as err:
                raise VidORFormatError(
                    f'{video.anno_path}: frame {fid}: bad trajectory entry {roi!r:.80}: '
                    f'{err}') from err
            if tid not in video.categories:
                unknown.add(tid)
                continue
            inside = clip_box(box, video.width, video.height)
            if inside != box:
                clipped[tid] = clipped.get(tid, 0) + 1
            if inside is None:
                dropped[tid] = dropped.get(tid, 0) + 1
                continue
            video.boxes.setdefault(tid, {})[fid] = inside
    for tid in sorted(unknown):
        video.note(f'tid {tid} has boxes but no entry in "subject/objects"; ignored')
    for tid, count in sorted(clipped.items()):
        video.note(f'tid {tid}: {count} boxes outside the {video.width}x{video.height} '
                   f'frame were clipped ({dropped.get(tid, 0)} entirely outside: dropped)')


def _read_relations(video: VidORVideo, instances: list) -> None:
    for index, rel in enumerate(instances):
        try:
            relation = VidORRelation(int(rel['subject_tid']), int(rel['object_tid']),
                                     str(rel['predicate']), int(rel['begin_fid']),
                                     int(rel['end_fid']))
        except (KeyError, TypeError, ValueError) as err:
            raise VidORFormatError(
                f'{video.anno_path}: relation {index}: bad entry {rel!r:.80}: {err}') from err
        what = (f'relation {index} ({relation.subject_tid} {relation.predicate} '
                f'{relation.object_tid})')
        missing = [t for t in (relation.subject_tid, relation.object_tid)
                   if not video.boxes.get(t)]
        if missing:
            video.note(f'{what} skipped: tid {missing[0]} has no trajectory')
            continue
        if relation.subject_tid == relation.object_tid:
            video.note(f'{what} skipped: subject and object are the same tid')
            continue
        if relation.begin_fid >= video.frame_count or relation.end_fid <= relation.begin_fid:
            video.note(f'{what} skipped: span [{relation.begin_fid}, {relation.end_fid}) is '
                       f'empty or beyond the video ({video.frame_count} frames)')
            continue
        if relation.end_fid > video.frame_count or relation.begin_fid < 0:
            video.note(f'{what}: span [{relation.begin_fid}, {relation.end_fid}) clipped to '
                       f'the video ({video.frame_count} frames)')
            relation.begin_fid = max(0, relation.begin_fid)
            relation.end_fid = min(video.frame_count, relation.end_fid)
        video.relations.append(relation)


def clip_box(box: Box, width: int, height: int) -> Optional[Box]:
    """``box`` clipped to ``[0, width] x [0, height]``; None if nothing is left."""
    x0, y0 = min(max(box[0], 0.0), width), min(max(box[1], 0.0), height)
    x1, y1 = min(max(box[2], 0.0), width), min(max(box[3], 0.0), height)
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None
    return (x0, y0, x1, y1)


def sample_frame_ids(frame_count: int, video_fps: float, target_fps: Optional[float]) -> List[int]:
    """Frame ids kept when sampling a video at ``target_fps``.

    Every ``round(video_fps / target_fps)``-th frame from frame 0; all frames
    when ``target_fps`` is None or not below ``video_fps``.
    """
    if not target_fps or target_fps <= 0:
        return list(range(frame_count))
    stride = max(1, int(round(video_fps / target_fps)))
    return list(range(0, frame_count, stride))
