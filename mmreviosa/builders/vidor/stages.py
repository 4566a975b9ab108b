"""The four per-video stages, each saved to ``OUT/_work/<video_id>/stageN.json``.

1. masks: sampled frames written to ``OUT/JPEGImages/<video_id>/`` and one
   mask track per VidOR tid (RLE per sampled frame, null where absent);
2. objects: cues (colour, size, position, motion) and single-object
   expressions;
3. interactions: each valid relation with ``is_interaction`` and its reason
   (action predicates: yes; spatial ones: no, unless the backend says so);
4. expressions: every expression of the video (single-object, interaction
   pairs linked both ways, spatial ones without a target), with texts that
   refer to two different sets of objects removed.

A stage file stores the settings it was made with (``params``); a stage is
redone only when its file is missing or its settings changed, so rerunning an
interrupted conversion continues where it stopped.
"""
import json
import os
import os.path as osp
import shutil
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

import cv2

from mmreviosa.builders.vidor.cues import distinguishing_cues, object_cues
from mmreviosa.builders.vidor.language import LanguageBackend, noun_phrase
from mmreviosa.builders.vidor.reader import VideoReadError, VidORVideo, sample_frame_ids
from mmreviosa.builders.vidor.vocabulary import is_action_predicate, is_known_predicate
from mmreviosa.fileio import iter_video_frames, write_jpeg, write_json_file

NUM_STAGES = 4


class StageStore:
    """Stage files of one video: ``<work_dir>/stage<N>.json``, written atomically."""

    def __init__(self, work_dir: str):
        self.work_dir = work_dir

    def path(self, stage: int) -> str:
        return osp.join(self.work_dir, f'stage{stage}.json')

    def load(self, stage: int, params: dict) -> Optional[dict]:
        """The saved output of ``stage`` if it was made with ``params``, else None."""
        path = self.path(stage)
        if not osp.isfile(path):
            return None
        try:
            with open(path, encoding='utf-8') as file:
                data = json.load(file)
        except (OSError, json.JSONDecodeError):
            return None  # a damaged file is recomputed
        if data.get('params') != json.loads(json.dumps(params)):
            return None
        return data

    def save(self, stage: int, params: dict, data: dict) -> dict:
        data = dict(data, params=params)
        write_json_file(self.path(stage), data)
        return json.loads(json.dumps(data))


# ---------------------------------------------------------------- stage 1
def _decode(video_path: str, frame_ids: List[int]):
    """The frames ``frame_ids`` of a video file; a missing or undecodable file is a
    :class:`VideoReadError` (the video is skipped, named)."""
    try:
        yield from iter_video_frames(video_path, frame_ids)
    except OSError as err:
        raise VideoReadError(str(err)) from err


def run_masks_stage(video: VidORVideo, out_root: str, tracker, target_fps: Optional[float]
                    ) -> dict:
    """Stage 1: write the sampled frames and track a mask per tid.

    Raises:
        VideoReadError: the video file is missing or yields no frame.
    """
    frame_dir = osp.join(out_root, 'JPEGImages', video.video_id)
    if osp.isdir(frame_dir):
        shutil.rmtree(frame_dir)  # frames of an interrupted or differently sampled run
    os.makedirs(frame_dir)
    wanted = sample_frame_ids(video.frame_count, video.fps, target_fps)
    decoded = []
    for fid, frame in _decode(video.video_path, wanted):
        if frame.shape[:2] != (video.height, video.width):
            if not decoded:
                video.note(f'decoded frames are {frame.shape[1]}x{frame.shape[0]}, the '
                           f'annotation says {video.width}x{video.height}; frames resized')
            frame = cv2.resize(frame, (video.width, video.height), interpolation=cv2.INTER_AREA)
        write_jpeg(osp.join(frame_dir, f'{fid:05d}.jpg'), frame)
        decoded.append(fid)
    if not decoded:
        raise VideoReadError(f'video {video.video_id}: no frame could be decoded from '
                             f'{video.video_path}')
    if len(decoded) < len(wanted):
        video.note(f'{video.video_path} has fewer frames than frame_count '
                   f'{video.frame_count}; {len(wanted) - len(decoded)} sampled frames missing')
    box_tracks = {tid: [boxes.get(fid) for fid in decoded]
                  for tid, boxes in sorted(video.boxes.items())}
    rles, fallbacks = tracker.track(frame_dir, box_tracks, video.height, video.width)
    tracks = {str(tid): {'category': video.categories[tid], 'boxes': box_tracks[tid],
                         'masks': rles[tid], 'box_fallbacks': fallbacks[tid]}
              for tid in box_tracks}
    return {'video_id': video.video_id, 'frames': [f'{fid:05d}' for fid in decoded],
            'frame_ids': decoded, 'height': video.height, 'width': video.width,
            'tracks': tracks, 'issues': list(video.issues)}


# ---------------------------------------------------------------- stage 2
def run_objects_stage(video_id: str, masks: dict, out_root: str, backend: LanguageBackend,
                      box_masks: bool) -> dict:
    """Stage 2: cues, a distinguishing noun phrase and single-object expressions."""
    frame_paths = [osp.join(out_root, 'JPEGImages', video_id, f'{name}.jpg')
                   for name in masks['frames']]
    issues, objects = [], {}
    for tid, track in masks['tracks'].items():
        if not any(m is not None for m in track['masks']):
            issues.append(f'video {video_id}: tid {tid} ({track["category"]}) is absent from '
                          f'every sampled frame; no expression refers to it')
            continue
        boxes = [None if b is None else tuple(b) for b in track['boxes']]
        objects[tid] = {'category': track['category'],
                        'cues': object_cues(boxes, track['masks'], frame_paths, masks['width'],
                                            masks['height'], box_masks)}
    expressions = []
    for tid, info in objects.items():
        peers = [other['cues'] for key, other in objects.items()
                 if key != tid and other['category'] == info['category']]
        chosen = distinguishing_cues(info['cues'], peers)
        info['phrase'] = None if chosen is None else noun_phrase(info['category'], info['cues'],
                                                                 chosen)
        where = f'video {video_id} tid {tid}'
        texts = backend.describe(info['category'], info['cues'], peers, where)
        if texts is None:
            issues.append(f'{where}: single-object expression skipped (backend gave no valid '
                          f'answer)')
            continue
        expressions += [{'exp': text, 'obj_id': [int(tid)], 'target_obj_id': [],
                         'kind': 'single'} for text in texts]
    return {'objects': objects, 'expressions': expressions, 'issues': issues}


# ---------------------------------------------------------------- stage 3
def run_interactions_stage(video: VidORVideo, objects: dict, backend: LanguageBackend) -> dict:
    """Stage 3: decide which relations are interactions (subject = actor)."""
    issues = []
    spans: Dict[Tuple[int, str, int], List[List[int]]] = defaultdict(list)
    for rel in video.relations:
        key = (rel.subject_tid, rel.predicate, rel.object_tid)
        what = f'video {video.video_id}: relation {rel.subject_tid} {rel.predicate} ' \
               f'{rel.object_tid}'
        if not is_known_predicate(rel.predicate):
            issues.append(f'{what} skipped: "{rel.predicate}" is not a VidOR predicate')
            continue
        absent = [t for t in (rel.subject_tid, rel.object_tid) if str(t) not in objects]
        if absent:
            issues.append(f'{what} skipped: tid {absent[0]} is not on any sampled frame')
            continue
        spans[key].append([rel.begin_fid, rel.end_fid])
    relations = []
    for (subject, predicate, obj), rel_spans in spans.items():
        entry = {'subject_tid': subject, 'object_tid': obj, 'predicate': predicate,
                 'spans': rel_spans}
        if is_action_predicate(predicate):
            entry.update(is_interaction=True, source='rule', reason='action predicate')
        else:
            where = f'video {video.video_id}: relation {subject} {predicate} {obj}'
            decision = backend.decide_interaction(
                predicate, _bare(objects, subject), _bare(objects, obj), where)
            if decision is None:
                issues.append(f'{where}: the backend gave no valid decision; kept as a '
                              f'spatial (non-interaction) relation')
                entry.update(is_interaction=False, source='rule', reason='spatial predicate')
            else:
                entry.update(is_interaction=decision[0], source=backend.name, reason=decision[1])
        relations.append(entry)
    return {'relations': relations, 'issues': issues}


def _bare(objects: dict, tid: int, count: int = 1) -> str:
    return noun_phrase(objects[str(tid)]['category'], count=count)


# ---------------------------------------------------------------- stage 4
def _relation_groups(relations: List[dict], objects: dict) -> List[dict]:
    """Interactions sharing predicate, target and actor category become one
    one-to-many group ("the two adults pushing the car"); others stay single."""
    groups: Dict[tuple, dict] = {}
    for rel in relations:
        subject, obj = str(rel['subject_tid']), str(rel['object_tid'])
        if rel['is_interaction']:
            key = ('interaction', rel['predicate'], obj, objects[subject]['category'])
        else:
            key = ('spatial', rel['predicate'], obj, subject)
        group = groups.setdefault(key, {'predicate': rel['predicate'], 'subjects': [],
                                        'objects': [obj], 'interaction': rel['is_interaction']})
        group['subjects'].append(subject)
    return list(groups.values())


def _phrase(objects: dict, tids: List[str]) -> str:
    """Noun phrase of a relation participant: qualified by the cues of stage 2
    when other objects share its category ("the adult in red"), so that the
    target of an expression is as clear as its actor."""
    info = objects[tids[0]]
    has_peers = any(other['category'] == info['category']
                    for key, other in objects.items() if key not in tids)
    if len(tids) == 1 and has_peers and info.get('phrase'):
        return info['phrase']
    return noun_phrase(info['category'], count=len(tids))


def run_expressions_stage(video_id: str, objects: dict, singles: List[dict],
                          relations: List[dict], backend: LanguageBackend,
                          spatial_expressions: bool = True) -> dict:
    """Stage 4: all expressions of a video, unambiguous, pairs linked by index."""
    issues = []
    groups = [g for g in _relation_groups(relations, objects)
              if g['interaction'] or spatial_expressions]
    texts = []
    for group in groups:
        subjects, objs = group['subjects'], group['objects']
        texts.append(backend.relation_expressions(
            group['predicate'], _phrase(objects, subjects), _phrase(objects, objs),
            objects[subjects[0]]['category'], objects[objs[0]]['category'], len(subjects),
            len(objs), f'video {video_id}: relation {",".join(subjects)} {group["predicate"]} '
                       f'{objs[0]}'))
    referents = _referents(singles, groups, texts)

    def unique(text: str, where: str) -> bool:
        if len(referents[text.lower()]) > 1:
            issues.append(f'video {video_id}: {where} "{text}" dropped: it fits several objects')
            return False
        return True

    emitted = set()  # (text, actors) already said: VidOR often annotates both
    # directions of a spatial relation ("A in front of B", "B behind A").

    def fresh(text: str, actors: List[int]) -> bool:
        key = (text.lower(), tuple(actors))
        if key in emitted:
            return False
        emitted.add(key)
        return True

    expressions = [dict(e, pair=None) for e in singles
                   if unique(e['exp'], 'expression') and fresh(e['exp'], e['obj_id'])]
    for group, pair in zip(groups, texts):
        where = f'relation {",".join(group["subjects"])} {group["predicate"]} ' \
                f'{group["objects"][0]}'
        if pair is None:
            issues.append(f'video {video_id}: {where}: expressions skipped (backend gave no '
                          f'valid answer)')
            continue
        kind = 'interaction' if group['interaction'] else 'spatial'
        subjects = [int(t) for t in group['subjects']]
        objs = [int(t) for t in group['objects']]
        roles = [(pair[0], subjects, objs), (pair[1], objs, subjects)]
        first = len(expressions)
        entries = []
        for text, actors, targets in roles:
            if unique(text, where) and (group['interaction'] or fresh(text, actors)):
                entries.append({'exp': text, 'obj_id': actors, 'kind': kind,
                                'target_obj_id': targets if group['interaction'] else [],
                                'predicate': group['predicate'], 'pair': None})
        if group['interaction'] and len(entries) == 2:
            entries[0]['pair'], entries[1]['pair'] = first + 1, first
        expressions += entries
    return {'expressions': expressions, 'issues': issues}


def _referents(singles: List[dict], groups: List[dict], texts: list) -> Dict[str, set]:
    """Lower-cased text -> set of the actor tuples it is used for."""
    referents: Dict[str, set] = defaultdict(set)
    for entry in singles:
        referents[entry['exp'].lower()].add(tuple(entry['obj_id']))
    for group, pair in zip(groups, texts):
        if pair:
            referents[pair[0].lower()].add(tuple(int(t) for t in group['subjects']))
            referents[pair[1].lower()].add(tuple(int(t) for t in group['objects']))
    return referents
