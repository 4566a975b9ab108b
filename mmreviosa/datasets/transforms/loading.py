"""Reading the sampled frames and the role masks of an item."""
from typing import Dict, List

import numpy as np
from mmcv.transforms import BaseTransform

from mmreviosa.fileio import (read_palette_png, read_rgb_image, read_video_frames, stack_frames,
                              union_of_annotations)
from mmreviosa.datasets.packing import is_packed, turn_views
from mmreviosa.registry import TRANSFORMS

__all__ = ['LoadVideoFrames', 'LoadRoleMasks']


def _item_name(results: Dict) -> str:
    return f'video {results.get("video_id")} expression {results.get("exp_id")}'


@TRANSFORMS.register_module()
class LoadVideoFrames(BaseTransform):
    """Read the sampled frames of an item (JPEG files via OpenCV, or a decoded video file).

    Required keys: ``frame_inds`` and ``frame_paths`` (or ``video_path`` when
    ``frame_paths`` is None); ``ori_shape`` (H, W) when present is checked.
    Added keys: ``frames`` (T, H, W, 3) uint8 RGB (one row per entry of
    ``frame_inds``, repeats included), ``ori_shape`` and ``img_shape`` (H, W).

    Raises:
        OSError: a frame is missing or cannot be decoded; the message names the
            file, the video id and the expression id.
        ValueError: frames of different sizes, or a size other than ``ori_shape``.
    """

    def transform(self, results: Dict) -> Dict:
        frame_inds = [int(i) for i in results['frame_inds']]
        paths = results.get('frame_paths')
        if paths is not None:
            decoded = {}
            for index in sorted(set(frame_inds)):
                try:
                    decoded[index] = read_rgb_image(paths[index])
                except OSError as err:
                    raise OSError(f'{_item_name(results)}: frame {index}: {err}') from err
            frames = [decoded[i] for i in frame_inds]
        else:
            video_path = results.get('video_path')
            if video_path is None:
                raise KeyError(f'{_item_name(results)}: neither frame_paths nor video_path')
            try:
                frames = list(read_video_frames(video_path, frame_inds))
            except (OSError, IndexError) as err:
                raise OSError(f'{_item_name(results)}: {err}') from err
        names = results.get('frame_names')
        frames = stack_frames(frames, _item_name(results),
                              names=None if names is None else [names[i] for i in frame_inds])
        shape = frames.shape[1:3]
        expected = results.get('ori_shape')
        if expected is not None and tuple(expected) != shape:
            raise ValueError(f'{_item_name(results)}: frames are {shape}, but the annotation '
                             f'says {tuple(expected)}')
        results['frames'] = frames
        results['ori_shape'] = shape
        results['img_shape'] = shape
        return results


@TRANSFORMS.register_module()
class LoadRoleMasks(BaseTransform):
    """Decode the actor and target masks of the sampled frames.

    The masks of a role are the union over its anno ids (one-to-many); a
    null RLE is an empty mask; an expression without a target gets all-False
    target masks.  Palette layouts select pixels equal to the role's obj ids.

    Required keys: ``frame_inds``, ``ori_shape`` (from :class:`LoadVideoFrames`),
    ``mask_format`` and either ``actor_rles``/``target_rles`` ('rle') or
    ``mask_paths``/``obj_id``/``target_obj_id`` ('palette').
    Added keys: ``gt_actor_masks``, ``gt_target_masks`` (T, H, W) bool; in each turn of
    a packed item (:mod:`mmreviosa.datasets.packing`), from that turn's roles.

    Raises:
        ValueError: the split has no masks, or an RLE does not fit its frame;
            the message names the video, expression, anno id and frame.
    """

    def _rle_masks(self, per_anno: List[list], anno_ids: List[str], frame_inds: List[int],
                   results: Dict) -> np.ndarray:
        return union_of_annotations(per_anno, anno_ids, frame_inds, results['ori_shape'],
                                    results.get('frame_names'), _item_name(results))

    def _palette_masks(self, frame_inds: List[int], results: Dict) -> tuple:
        height, width = results['ori_shape']
        actor_ids, target_ids = results['obj_id'], results.get('target_obj_id') or []
        actor = np.zeros((len(frame_inds), height, width), dtype=bool)
        target = np.zeros_like(actor)
        cache: Dict[int, np.ndarray] = {}
        for row, index in enumerate(frame_inds):
            if index not in cache:
                path = results['mask_paths'][index]
                try:
                    cache[index] = read_palette_png(path)
                except OSError as err:
                    raise OSError(f'{_item_name(results)}: cannot read mask {path}: {err}') from err
                if cache[index].shape[:2] != (height, width):
                    raise ValueError(f'{_item_name(results)}: mask {path} is '
                                     f'{cache[index].shape[:2]}, the frame {(height, width)}')
            actor[row] = np.isin(cache[index], actor_ids)
            target[row] = np.isin(cache[index], target_ids)
        return actor, target

    def transform(self, results: Dict) -> Dict:
        if is_packed(results):
            for turn, view in zip(results['turns'], turn_views(results)):
                self._load(view)
                turn.update(gt_actor_masks=view['gt_actor_masks'],
                            gt_target_masks=view['gt_target_masks'])
            return results
        return self._load(results)

    def _load(self, results: Dict) -> Dict:
        frame_inds = [int(i) for i in results['frame_inds']]
        mask_format = results.get('mask_format')
        if mask_format == 'rle':
            actor = self._rle_masks(results['actor_rles'], results['anno_id'], frame_inds, results)
            target = self._rle_masks(results['target_rles'], results['target_anno_id'],
                                     frame_inds, results)
        elif mask_format == 'palette':
            actor, target = self._palette_masks(frame_inds, results)
        else:
            raise ValueError(f'{_item_name(results)}: this split has no masks (mask_format='
                             f'{mask_format!r}); drop LoadRoleMasks from the pipeline')
        results['gt_actor_masks'] = actor
        results['gt_target_masks'] = target
        return results
