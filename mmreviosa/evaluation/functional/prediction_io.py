"""Writing and reading InterRVOS predictions, and reading split annotations.

Predictions are exported in two forms:

- PNG folders, one binary PNG (0 / 255) per frame and role:
  ``<root>/Annotations/<video_id>/<exp_id>/actor/<frame>.png`` and, when the
  prediction has a target, ``.../<exp_id>/target/<frame>.png``. The MeViS
  layout ``<root>/Annotations/<video_id>/<exp_id>/<frame>.png`` (no role
  folders) is read as actor-only predictions.
- One JSON file (``PREDICTION_FORMAT``)::

    {"format": "interrvos-predictions-v1",
     "videos": {"<video_id>": {"<exp_id>": {
         "frames": ["00000", ...],
         "actor": [COCO RLE or null, ...],     # one per frame, null = empty
         "target": [...] or null,              # null: no target predicted
         "text": "Sure, it is [SEG_ACT]."}}}}

Ground truth is read from a split folder in the dataset format
(``meta_expressions.json`` and ``mask_dict.json``), MeViS included.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from mmreviosa.datasets.layouts import parse_expression
from mmreviosa.datasets.validation import (InvalidAnnotationError, anno_mask_error,
                                           check_frame_names, read_json_file)

from .mask_rle import decode_masks

PREDICTION_FORMAT = 'interrvos-predictions-v1'
ROLES = ('actor', 'target')
Prediction = Tuple[np.ndarray, Optional[np.ndarray], str]


def write_prediction_pngs(root: str, video_id: str, exp_id: str,
                          frame_names: Sequence[str], actor_masks: np.ndarray,
                          target_masks: Optional[np.ndarray]) -> None:
    """Write one expression's masks as ``Annotations/.../<role>/<frame>.png``.

    Args:
        root: export folder.
        video_id: video id.
        exp_id: expression id.
        frame_names: T frame names (file stems).
        actor_masks: ``(T, H, W)`` binary.
        target_masks: ``(T, H, W)`` binary, or None (no target folder).
    """
    for role, masks in zip(ROLES, (actor_masks, target_masks)):
        if masks is None:
            continue
        folder = osp.join(root, 'Annotations', video_id, exp_id, role)
        os.makedirs(folder, exist_ok=True)
        for frame_name, mask in zip(frame_names, masks):
            image = (np.asarray(mask) != 0).astype(np.uint8) * 255
            path = osp.join(folder, f'{frame_name}.png')
            if not cv2.imwrite(path, image):
                raise OSError(f'could not write {path}')


def prediction_json_entry(frame_names: Sequence[str], actor_rles: list,
                          target_rles: Optional[list],
                          text: str = '') -> dict:
    """The JSON entry of one expression (see the module docstring).

    Args:
        frame_names: T frame names.
        actor_rles: T per-frame RLEs (None = empty), see ``encode_masks``.
        target_rles: the same for the target, or None without a target.
        text: the generated answer.
    """
    return {
        'frames': [str(name) for name in frame_names],
        'actor': list(actor_rles),
        'target': None if target_rles is None else list(target_rles),
        'text': text
    }


def write_prediction_json(path: str, videos: Dict[str, Dict[str,
                                                            dict]]) -> None:
    """Write ``{video_id: {exp_id: entry}}`` as a prediction JSON file."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as file:
        json.dump({'format': PREDICTION_FORMAT, 'videos': videos}, file)


class PredictionReader:
    """Reads exported predictions from a PNG folder or a prediction JSON.

    Args:
        source: a folder holding ``Annotations/`` (or the ``Annotations``
            folder itself), or a prediction JSON file.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.videos: Optional[Dict[str, Dict[str, dict]]] = None
        if osp.isfile(source):
            content = read_json_file(source, 'predictions')
            if not isinstance(content, dict) or content.get(
                    'format') != PREDICTION_FORMAT or not isinstance(
                        content.get('videos'), dict):
                raise ValueError(f'{source} is not a prediction file of '
                                 f'format {PREDICTION_FORMAT!r}')
            self.videos = content['videos']
            self.png_root = None
        elif osp.isdir(source):
            inner = osp.join(source, 'Annotations')
            self.png_root = inner if osp.isdir(inner) else source
        else:
            raise FileNotFoundError(f'predictions not found: {source}')

    def has(self, video_id: str, exp_id: str) -> bool:
        """Whether the expression has a prediction."""
        if self.videos is not None:
            return exp_id in self.videos.get(video_id, {})
        return osp.isdir(osp.join(self.png_root, video_id, exp_id))

    def check(self, video_id: str, exp_id: str,
              frame_names: Sequence[str]) -> None:
        """Check, without decoding, that a prediction covers the frames.

        Lets a caller find malformed predictions before a long run.

        Raises:
            ValueError: frames are missing, naming the video and expression.
        """
        if not self.has(video_id, exp_id):
            return
        where = f'{self.source}: video {video_id!r} expression {exp_id!r}'
        if self.videos is not None:
            entry = self.videos[video_id][exp_id]
            for role in ROLES:
                if entry.get(role) is not None:
                    self._select_rles(entry[role], entry, frame_names,
                                      f'{where} {role}')
            return
        folder = osp.join(self.png_root, video_id, exp_id)
        for role in ROLES:
            role_folder = osp.join(folder, role)
            if osp.isdir(role_folder):
                self._png_paths(role_folder, frame_names, where)
        if not osp.isdir(osp.join(folder, ROLES[0])):
            self._png_paths(folder, frame_names, where)

    def load(self, video_id: str, exp_id: str, frame_names: Sequence[str],
             frame_shape: Tuple[int, int]) -> Optional[Prediction]:
        """Masks of one expression, or None when it has no prediction.

        Args:
            video_id: video id.
            exp_id: expression id.
            frame_names: the T frames the ground truth covers.
            frame_shape: ``(H, W)`` of the ground truth.

        Returns:
            tuple | None: actor ``(T, H, W)`` bool, target ``(T, H, W)`` bool
            or None, and the answer text ('' for PNG folders).

        Raises:
            ValueError: frames missing or of another size, naming the video,
                the expression and the shapes.
        """
        if not self.has(video_id, exp_id):
            return None
        where = f'{self.source}: video {video_id!r} expression {exp_id!r}'
        if self.videos is not None:
            entry = self.videos[video_id][exp_id]
            actor = self._from_rles(entry['actor'], entry, frame_names,
                                    frame_shape, where + ' actor')
            target = None if entry.get('target') is None else \
                self._from_rles(entry['target'], entry, frame_names,
                                frame_shape, where + ' target')
            return actor, target, str(entry.get('text', ''))
        folder = osp.join(self.png_root, video_id, exp_id)
        if osp.isdir(osp.join(folder, 'actor')):
            actor = self._from_pngs(
                osp.join(folder, 'actor'), frame_names, frame_shape, where)
            target_folder = osp.join(folder, 'target')
            target = self._from_pngs(target_folder, frame_names, frame_shape,
                                     where) if osp.isdir(target_folder) \
                else None
        else:  # MeViS layout: one folder of actor masks
            actor = self._from_pngs(folder, frame_names, frame_shape, where)
            target = None
        return actor, target, ''

    @staticmethod
    def _select_rles(rles: list, entry: dict, frame_names: Sequence[str],
                     where: str) -> list:
        frames = entry.get('frames', list(frame_names))
        if len(rles) != len(frames):
            raise ValueError(f'{where}: {len(rles)} masks for {len(frames)} '
                             'frames')
        by_name = dict(zip(frames, rles))
        absent = [name for name in frame_names if name not in by_name]
        if absent:
            raise ValueError(f'{where}: no mask for frames {absent[:5]} '
                             f'({len(absent)} of {len(frame_names)})')
        return [by_name[name] for name in frame_names]

    @classmethod
    def _from_rles(cls, rles: list, entry: dict, frame_names: Sequence[str],
                   frame_shape: Tuple[int, int], where: str) -> np.ndarray:
        chosen = cls._select_rles(rles, entry, frame_names, where)
        sizes = {tuple(rle['size']) for rle in chosen if rle is not None}
        if sizes - {tuple(frame_shape)}:
            raise ValueError(f'{where}: mask size {sorted(sizes)} differs '
                             f'from the ground truth {tuple(frame_shape)}')
        try:
            return decode_masks(chosen, frame_shape, frame_names)
        except ValueError as err:
            raise ValueError(f'{where}: {err}') from err

    @staticmethod
    def _png_paths(folder: str, frame_names: Sequence[str],
                   where: str) -> List[str]:
        present = {osp.splitext(name)[0] for name in os.listdir(folder)}
        absent = [name for name in frame_names if name not in present]
        if absent:
            raise ValueError(f'{where}: {folder} has no PNG for frames '
                             f'{absent[:5]} ({len(absent)} of '
                             f'{len(frame_names)})')
        return [osp.join(folder, f'{name}.png') for name in frame_names]

    @classmethod
    def _from_pngs(cls, folder: str, frame_names: Sequence[str],
                   frame_shape: Tuple[int, int], where: str) -> np.ndarray:
        paths = cls._png_paths(folder, frame_names, where)
        masks = np.zeros((len(frame_names), ) + tuple(frame_shape), bool)
        for index, path in enumerate(paths):
            image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
            if image is None:
                raise ValueError(f'{where}: cannot read {path}')
            if image.ndim == 3:  # colour PNG: any non-zero channel
                image = image.max(axis=2)
            if image.shape != tuple(frame_shape):
                raise ValueError(f'{where}: {path} has shape {image.shape}, '
                                 f'the ground truth {tuple(frame_shape)}')
            masks[index] = image != 0
        return masks


def read_split_expressions(split_root: str) -> List[dict]:
    """Expressions of a split in the dataset format (MeViS included).

    The entries are checked as ``InterRVOSDataset`` checks them
    (``mmreviosa.datasets.validation``): malformed JSON, a video without
    frames, an empty expression or one without an actor anno id is an error
    naming the file, video and expression.

    Args:
        split_root: folder with ``meta_expressions.json``.

    Returns:
        list[dict]: one per expression, with video_id, exp_id, expression,
        frame_names, anno_id (actor), target_anno_id ([] without
        interaction), has_interaction and pair_exp_id; sorted by
        ``(video_id, exp_id)``.

    Raises:
        ValueError: see above (``InvalidAnnotationError`` is one).
    """
    path = osp.join(split_root, 'meta_expressions.json')
    meta = read_json_file(path, 'expression file')
    videos = meta.get('videos') if isinstance(meta, dict) else None
    if not isinstance(videos, dict):
        raise ValueError(f'{path}: expected {{"videos": {{<video_id>: ...}}}}')
    expressions = []
    for video_id, video in videos.items():
        where_video = f'{path}: video {video_id}'
        if not isinstance(video, dict) or not isinstance(
                video.get('expressions'), dict):
            raise InvalidAnnotationError(
                f'{where_video}: expected {{"frames": [...], "expressions": '
                '{...}}')
        frame_names = check_frame_names(video.get('frames'), where_video)
        for exp_id, exp in video['expressions'].items():
            where = f'{where_video} expression {exp_id}'
            # MeViS entries lack the target fields and read as actor-only.
            parsed = parse_expression('interrvos', exp, where)
            if not parsed['anno_id']:
                raise InvalidAnnotationError(f'{where}: no actor anno_id')
            expressions.append(
                dict(
                    video_id=str(video_id),
                    exp_id=str(exp_id),
                    expression=parsed['expression'],
                    frame_names=list(frame_names),
                    anno_id=parsed['anno_id'],
                    target_anno_id=parsed['target_anno_id'],
                    has_interaction=bool(parsed['target_anno_id']),
                    pair_exp_id=parsed['pair_exp_id']))
    return sorted(expressions, key=lambda e: (e['video_id'], e['exp_id']))


def read_split(split_root: str) -> Tuple[List[dict], Dict[str, list], str]:
    """Expressions and masks of a split, checked against each other before any scoring.

    Args:
        split_root: folder with ``meta_expressions.json`` and ``mask_dict.json``.

    Returns:
        tuple: the expressions (:func:`read_split_expressions`), the
        mask_dict ``{anno_id: [RLE or None per frame]}`` and its path.

    Raises:
        ValueError: as :func:`read_split_expressions`, and an anno id missing
            from the mask_dict, without one RLE (or null) per frame, or with
            RLEs of different sizes, naming both files, video and expression.
    """
    specs = read_split_expressions(split_root)
    meta_path = osp.join(split_root, 'meta_expressions.json')
    mask_path = osp.join(split_root, 'mask_dict.json')
    mask_dict = read_json_file(mask_path, 'mask_dict (anno id -> per-frame RLE)')
    if not isinstance(mask_dict, dict):
        raise ValueError(f'{mask_path}: expected {{"<anno_id>": [RLE or null, ...]}}')
    errors: Dict[Tuple[str, int], Optional[str]] = {}
    for spec in specs:
        for anno_id in spec['anno_id'] + spec['target_anno_id']:
            key = (anno_id, len(spec['frame_names']))
            if key not in errors:
                errors[key] = anno_mask_error(anno_id, mask_dict,
                                              spec['frame_names'], None,
                                              mask_path)
            if errors[key]:
                raise InvalidAnnotationError(
                    f'{meta_path}: video {spec["video_id"]} expression '
                    f'{spec["exp_id"]}: {errors[key]}')
    return specs, mask_dict, mask_path


def union_of_annotations(mask_dict: Dict[str, list], anno_ids: Sequence[str],
                         frame_names: Sequence[str], frame_shape: Tuple[int, int],
                         where: str) -> np.ndarray:
    """Union of the per-frame masks of several annotations (one role).

    Args:
        mask_dict: ``{anno_id: [RLE or None per frame]}``, checked by
            :func:`read_split`.
        anno_ids: the role's annotation ids (none: all-empty masks).
        frame_names: the T frames.
        frame_shape: ``(H, W)``.
        where: prefix of error messages (mask file, video, expression).

    Returns:
        np.ndarray: ``(T, H, W)`` bool.

    Raises:
        ValueError: an RLE that does not fit ``frame_shape`` or whose runs do
            not cover it, naming ``where``, the anno id and the frame.
    """
    union = np.zeros((len(frame_names), ) + tuple(frame_shape), bool)
    for anno_id in anno_ids:
        try:
            union |= decode_masks(mask_dict[anno_id], frame_shape, frame_names)
        except ValueError as err:
            raise ValueError(f'{where}: anno id {anno_id} {err}') from err
    return union


def annotation_frame_shape(mask_dict: Dict[str, list],
                           anno_ids: Sequence[str]) -> Optional[Tuple[int,
                                                                      int]]:
    """``(H, W)`` of the first non-empty RLE of the given annotations."""
    for anno_id in anno_ids:
        for rle in mask_dict.get(anno_id, []):
            if rle is not None:
                return tuple(int(size) for size in rle['size'])
    return None
