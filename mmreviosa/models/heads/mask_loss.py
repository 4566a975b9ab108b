"""Mask CE + Dice over (frame, role) rows, with zero-weight rows kept in the graph."""
from typing import Dict, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from mmcv.ops import point_sample
from mmdet.models.utils import get_uncertain_point_coords_with_randomness
from torch import Tensor, nn

from mmreviosa.registry import MODELS


def _build_loss(loss: Union[dict, nn.Module]) -> nn.Module:
    return loss if isinstance(loss, nn.Module) else MODELS.build(loss)


class WeightedMaskLoss(nn.Module):
    """Mask CE + Dice over the rows with weight 1, normalised by their number.

    Rows with weight 0 (e.g. the target of an expression without interaction)
    stay in the graph with zero contribution, so every rank runs the same graph.

    Args:
        loss_mask: per-pixel sigmoid CE config dict or module.
        loss_dice: Dice loss config dict or module.
        num_points: None computes the losses on all pixels at GT resolution; an int
            samples that many points per mask the Mask2Former way (importance
            sampling of uncertain logits, mmdet's
            ``get_uncertain_point_coords_with_randomness`` + mmcv's ``point_sample``).
        oversample_ratio: Mask2Former oversampling of candidate points.
        importance_sample_ratio: share of points taken from the most uncertain.
    """

    def __init__(self, loss_mask: Union[dict, nn.Module], loss_dice: Union[dict, nn.Module],
                 num_points: Optional[int] = None, oversample_ratio: float = 3.0,
                 importance_sample_ratio: float = 0.75):
        super().__init__()
        self.loss_mask = _build_loss(loss_mask)
        self.loss_dice = _build_loss(loss_dice)
        self.num_points = num_points
        self.oversample_ratio = oversample_ratio
        self.importance_sample_ratio = importance_sample_ratio

    def forward(self, mask_logits: Tensor, gt_masks: Tensor, weights: Tensor) -> Dict[str, Tensor]:
        """(N, R, h, w) logits, (N, R, H, W) masks, (N, R) weights -> loss_mask, loss_dice."""
        assert mask_logits.dim() == 4 and gt_masks.dim() == 4 and \
            gt_masks.shape[:2] == mask_logits.shape[:2] and \
            weights.shape == mask_logits.shape[:2], (
                'expected mask_logits (N, R, h, w), gt_masks (N, R, H, W), weights (N, R); got '
                f'{tuple(mask_logits.shape)}, {tuple(gt_masks.shape)}, {tuple(weights.shape)}')
        logits = mask_logits.flatten(0, 1).unsqueeze(1).float()
        targets = gt_masks.flatten(0, 1).unsqueeze(1).to(logits.dtype)
        row_weights = weights.flatten().to(logits.dtype)
        num_valid = row_weights.sum().clamp(min=1)
        if self.num_points is None:
            logits = F.interpolate(logits, size=targets.shape[-2:], mode='bilinear',
                                   align_corners=False)
            point_logits, point_targets = logits.flatten(1), targets.flatten(1)
        else:
            point_logits, point_targets = self._sample_points(logits, targets)
        num_points = point_logits.shape[1]
        loss_mask = self.loss_mask(
            point_logits, point_targets, weight=row_weights[:, None].expand(-1, num_points),
            avg_factor=num_valid * num_points)
        loss_dice = self.loss_dice(
            point_logits, point_targets, weight=row_weights, avg_factor=num_valid)
        return dict(loss_mask=loss_mask, loss_dice=loss_dice)

    def _sample_points(self, logits: Tensor, targets: Tensor) -> Tuple[Tensor, Tensor]:
        """Mask2Former point sampling: (M, 1, h, w), (M, 1, H, W) -> (M, P) each."""
        with torch.no_grad():
            coords = get_uncertain_point_coords_with_randomness(
                logits, None, self.num_points, self.oversample_ratio,
                self.importance_sample_ratio)
            point_targets = point_sample(targets, coords).squeeze(1)
        point_logits = point_sample(logits, coords).squeeze(1)
        return point_logits, point_targets
