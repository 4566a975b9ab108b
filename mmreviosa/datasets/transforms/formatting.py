"""Packing a processed item into model inputs and an ``InterRVOSDataSample``."""
from typing import Dict, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mmreviosa.datasets.packing import is_packed, turn_views
from mmreviosa.registry import TRANSFORMS
from mmreviosa.structures.data_sample import InterRVOSDataSample, PackedDataSamples

#: Metainfo keys every packed sample has (see ``InterRVOSDataSample``).
META_KEYS = ('video_id', 'exp_id', 'expression', 'frame_names', 'frame_inds', 'key_frame_inds',
             'ori_shape', 'has_interaction', 'pair_exp_id', 'num_video_frames',
             'role_token_ids')
#: Metainfo keys copied when the item has them.
OPTIONAL_META_KEYS = ('type_id', 'obj_id', 'anno_id', 'target_obj_id', 'target_anno_id',
                      'question', 'answer', 'flipped', 'sample_idx', 'video_path')

# Which transform produces each required key, for the error message.
_PRODUCERS = {'mllm_pixels': 'ResizeForModels', 'sam_pixels': 'ResizeForModels',
              'input_ids': 'TokenizeConversation', 'frame_inds': 'SampleFrames',
              'key_frame_inds': 'SampleFrames', 'ori_shape': 'LoadVideoFrames'}


def _uint8_tensor(array) -> torch.Tensor:
    tensor = torch.as_tensor(np.ascontiguousarray(array))
    assert tensor.dtype == torch.uint8 and tensor.dim() == 4 and tensor.shape[1] == 3, (
        f'expected (N, 3, S, S) uint8 pixels, got {tuple(tensor.shape)} {tensor.dtype}')
    return tensor


@TRANSFORMS.register_module()
class PackInterRVOSInputs(BaseTransform):
    """Pack an item as ``dict(inputs=..., data_samples=InterRVOSDataSample)``.

    ``inputs``: ``mllm_pixels`` (K, 3, Sm, Sm) uint8, ``sam_pixels``
    (T, 3, Ss, Ss) uint8, ``input_ids`` (L,) long and, in training,
    ``labels`` (L,) long.  ``data_samples``: metainfo ``META_KEYS`` (with
    ``frame_names`` restricted to the sampled frames, and ``role_token_ids``
    None without a tokenizer) plus the ``OPTIONAL_META_KEYS`` present, and
    ``gt_actor_masks`` / ``gt_target_masks`` (T, H, W) bool tensors at the
    original resolution when the item has masks.

    A packed item (:mod:`mmreviosa.datasets.packing`) gives a :class:`PackedDataSamples`,
    one data sample per turn in conversation order, sharing the frame metainfo; the data
    preprocessor
    flattens the batch's lists and records how many turns each item has.

    Args:
        meta_keys: metainfo keys that must be present (defaults above).
        optional_meta_keys: metainfo keys copied when present.
    """

    def __init__(self, meta_keys: Sequence[str] = META_KEYS,
                 optional_meta_keys: Sequence[str] = OPTIONAL_META_KEYS):
        self.meta_keys = tuple(meta_keys)
        self.optional_meta_keys = tuple(optional_meta_keys)

    def transform(self, results: Dict) -> Dict:
        missing = [k for k in ('mllm_pixels', 'sam_pixels', 'input_ids', 'frame_inds',
                               'key_frame_inds', 'ori_shape') if k not in results]
        if missing:
            producers = sorted({_PRODUCERS[k] for k in missing})
            raise KeyError(f'video {results.get("video_id")} expression {results.get("exp_id")}'
                           f': keys {missing} are missing; the pipeline needs {producers} '
                           f'before PackInterRVOSInputs')
        inputs = dict(mllm_pixels=_uint8_tensor(results['mllm_pixels']),
                      sam_pixels=_uint8_tensor(results['sam_pixels']),
                      input_ids=torch.as_tensor(results['input_ids'], dtype=torch.long))
        if results.get('labels') is not None:
            inputs['labels'] = torch.as_tensor(results['labels'], dtype=torch.long)
        num_frames = len(results['frame_inds'])
        if inputs['sam_pixels'].shape[0] != num_frames:
            raise ValueError(f'sam_pixels has {inputs["sam_pixels"].shape[0]} frames, '
                             f'frame_inds {num_frames}')
        if inputs['mllm_pixels'].shape[0] != len(results['key_frame_inds']):
            raise ValueError(f'mllm_pixels has {inputs["mllm_pixels"].shape[0]} frames, '
                             f'key_frame_inds {len(results["key_frame_inds"])}')

        if is_packed(results):
            samples = PackedDataSamples(self._data_sample(view, num_frames)
                                        for view in turn_views(results))
            return dict(inputs=inputs, data_samples=samples)
        return dict(inputs=inputs, data_samples=self._data_sample(results, num_frames))

    def _data_sample(self, results: Dict, num_frames: int) -> InterRVOSDataSample:
        meta = {}
        for key in self.meta_keys:
            if key == 'role_token_ids':
                meta[key] = results.get(key)
            elif key == 'frame_names':
                meta[key] = [results['frame_names'][i] for i in results['frame_inds']]
            elif key in ('frame_inds', 'key_frame_inds'):
                meta[key] = [int(i) for i in results[key]]
            elif key == 'ori_shape':
                meta[key] = tuple(int(s) for s in results[key])
            else:
                if key not in results:
                    raise KeyError(f'metainfo key {key!r} is missing from the item')
                meta[key] = results[key]
        for key in self.optional_meta_keys:
            if key in results:
                meta[key] = results[key]
        data_sample = InterRVOSDataSample(metainfo=meta)
        for key in ('gt_actor_masks', 'gt_target_masks'):
            if results.get(key) is not None:
                masks = torch.as_tensor(np.ascontiguousarray(results[key])).bool()
                if masks.shape != (num_frames, *meta['ori_shape']):
                    raise ValueError(f'{key} is {tuple(masks.shape)}, expected '
                                     f'{(num_frames, *meta["ori_shape"])}')
                setattr(data_sample, key, masks)
        return data_sample

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'
