"""Writing and reading InterRVOS predictions.

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

The ground truth they are scored against is read with
:func:`mmreviosa.fileio.read_split`.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmreviosa.fileio import (decode_masks, read_binary_png, read_json_file, write_binary_png,
                              write_json_file)

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
            write_binary_png(osp.join(folder, f'{frame_name}.png'), mask)


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
    write_json_file(path, {'format': PREDICTION_FORMAT, 'videos': videos})


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
            mask = read_binary_png(path)
            if mask is None:
                raise ValueError(f'{where}: cannot read {path}')
            if mask.shape != tuple(frame_shape):
                raise ValueError(f'{where}: {path} has shape {mask.shape}, '
                                 f'the ground truth {tuple(frame_shape)}')
            masks[index] = mask
        return masks
