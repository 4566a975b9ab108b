"""Models that stand in for ReVIOSa where the model itself is not under test."""
import time
import zlib
from typing import List

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import nn

from mmreviosa.registry import MODELS
from mmreviosa.structures import InterRVOSDataSample


def _seed_of(*keys) -> int:
    """A seed that depends only on the keys (not on rank, order or PYTHONHASHSEED)."""
    return zlib.crc32('/'.join(map(str, keys)).encode())


@MODELS.register_module()
class GTNoiseSegmentor(BaseModel):
    """Predicts the GT masks with seeded pixel noise: a deterministic stand-in.

    Each prediction depends only on (seed, video id, expression id), so the
    same item gets the same prediction on any rank and in any order.

    Args:
        flip_prob (float): probability of flipping each pixel.
        drop_target_prob (float): probability of answering without a target
            (tests ``interaction_acc``).
        seed (int): base seed.
    """

    def __init__(self, flip_prob: float = 0.05, drop_target_prob: float = 0.1, seed: int = 0,
                 data_preprocessor=None):
        super().__init__(data_preprocessor=data_preprocessor or dict(
            type='InterRVOSDataPreprocessor'))
        self.flip_prob = flip_prob
        self.drop_target_prob = drop_target_prob
        self.seed = seed
        self.scale = nn.Parameter(torch.zeros(()))  # gives the optimizer and DDP something

    def forward(self, inputs, data_samples=None, mode='tensor'):
        if mode == 'loss':
            return dict(loss_dummy=(self.scale - 1.0).pow(2) + 0 * inputs['sam_pixels'].mean())
        if mode == 'predict':
            return self.predict(data_samples)
        return self.scale

    def _noisy(self, masks: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        flips = torch.from_numpy(rng.random(tuple(masks.shape)) < self.flip_prob)
        return masks.bool().cpu() ^ flips

    def predict(self, data_samples: List[InterRVOSDataSample]) -> List[InterRVOSDataSample]:
        for sample in data_samples:
            rng = np.random.default_rng(_seed_of(self.seed, sample.video_id, sample.exp_id))
            sample.pred_actor_masks = self._noisy(sample.gt_actor_masks, rng)
            answer_target = bool(sample.has_interaction) != (rng.random() < self.drop_target_prob)
            sample.pred_target_masks = (self._noisy(sample.gt_target_masks, rng)
                                        if answer_target else None)
            sample.pred_text = 'Sure, it is [SEG_ACT] and [SEG_TAR].' if answer_target \
                else 'Sure, it is [SEG_ACT].'
        return data_samples


@MODELS.register_module()
class ToySegmentor(BaseModel):
    """A small per-frame conv net trained on actor masks: a fast model for engine tests.

    It ignores the expression; it exists to check that training, resuming
    and distributed runs behave, on the real data pipeline.

    Args:
        channels (int): width of the hidden layer.
        step_delay (float): seconds to sleep in each training step, so that a
            test can interrupt a run between two checkpoints.
    """

    def __init__(self, channels: int = 8, step_delay: float = 0.0, data_preprocessor=None):
        super().__init__(data_preprocessor=data_preprocessor or dict(
            type='InterRVOSDataPreprocessor'))
        self.step_delay = step_delay
        self.net = nn.Sequential(
            nn.Conv2d(3, channels, 3, padding=1), nn.ReLU(),
            nn.Conv2d(channels, 2, 3, padding=1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        logits = self.net(inputs['sam_pixels'])  # (N, 2, S, S)
        if mode == 'tensor':
            return logits
        if mode == 'loss':
            time.sleep(self.step_delay)
            size = logits.shape[-2:]
            gt = torch.cat([
                torch.stack([s.gt_actor_masks, s.gt_target_masks], dim=1).float()
                for s in data_samples
            ]).to(logits.device)
            gt = F.interpolate(gt, size=size, mode='nearest')
            return dict(loss_mask=F.binary_cross_entropy_with_logits(logits, gt))
        offsets = np.cumsum([0] + inputs['num_frames'])
        for b, sample in enumerate(data_samples):
            frame_logits = logits[offsets[b]:offsets[b + 1]]
            masks = F.interpolate(frame_logits, size=tuple(sample.ori_shape), mode='bilinear') > 0
            sample.pred_actor_masks = masks[:, 0].cpu()
            sample.pred_target_masks = masks[:, 1].cpu() if sample.has_interaction else None
            sample.pred_text = ''
        return data_samples
