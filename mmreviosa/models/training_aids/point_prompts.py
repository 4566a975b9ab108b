"""Point prompts from the role tokens' attention, and the GT-point decode that trains them.

A SAM2 decoder trained from scratch follows a location within a few hundred steps but a
semantic prompt only after thousands (``benchmarks/bench_prompt_learnability.py``), so
the tiny recipe ``reviosa_tiny_intershapes_points.py`` adds to each role's prompt SAM's
point embedding at the soft-argmax of the role token's attention over each key frame
(:class:`AttentionPointPrompts`), and decodes every frame once more from the GT-mask
centroid (:class:`GTPointMaskLoss`) so that the decoder learns to follow points while
the attention is still finding the object.
"""
from typing import Dict, List, Sequence, Tuple

import torch
from torch import Tensor, nn

from mmreviosa.models.heads.sam2_head import SAM2Head
from mmreviosa.models.segmentors.plugin_inputs import AuxLossInputs, RoleAttention
from mmreviosa.models.segmentors.role_utils import visual_attention_maps, visual_token_positions
from mmreviosa.models.utils import nearest_key_frames
from mmreviosa.registry import MODELS


def soft_argmax_points(maps: Tensor) -> Tensor:
    """Expected (x, y) location, in [0, 1] frame fractions, of (..., P_h, P_w)
    distributions over patches (patch centres at ((j + 0.5) / P_w, (i + 0.5) / P_h))."""
    grid_h, grid_w = maps.shape[-2:]
    ys = (torch.arange(grid_h, device=maps.device, dtype=maps.dtype) + 0.5) / grid_h
    xs = (torch.arange(grid_w, device=maps.device, dtype=maps.dtype) + 0.5) / grid_w
    x = (maps.sum(dim=-2) * xs).sum(dim=-1)
    y = (maps.sum(dim=-1) * ys).sum(dim=-1)
    return torch.stack([x, y], dim=-1)


def mask_centroids(masks: Tensor) -> Tuple[Tensor, Tensor]:
    """Centroids of (..., H, W) masks in [0, 1] frame fractions (pixel centres at
    (j + 0.5) / W) -> ((..., 2) points (x, y), (...) bool non-empty).  Empty masks
    get the frame centre."""
    masks = masks.float()
    area = masks.sum(dim=(-2, -1))
    points = soft_argmax_points(masks / area.clamp(min=1e-12)[..., None, None])
    has = area > 0
    return torch.where(has[..., None], points, torch.full_like(points, 0.5)), has


def attention_points(role_attention: Tensor, input_ids: Tensor, image_token_id: int,
                     tokens_per_frame: int, num_key_frames: int) -> Tensor:
    """Soft-argmax (x, y) of each role token's attention on each key frame.

    Args:
        role_attention (Tensor): (B, n_layers, n_heads, R, L) attention rows.
        input_ids (Tensor): (B, L), with ``num_key_frames * tokens_per_frame`` image tokens
            per sequence (a square patch grid per frame).

    Returns:
        Tensor: (B, R, K, 2) points in [0, 1] frame fractions.
    """
    grid = int(round(tokens_per_frame ** 0.5))
    visual = visual_token_positions(input_ids, image_token_id,
                                    [num_key_frames * tokens_per_frame] * len(input_ids))
    return soft_argmax_points(visual_attention_maps(role_attention, visual,
                                                    (num_key_frames, grid, grid)))


def points_per_frame(points: Tensor, key_frame_inds: Sequence[Sequence[int]],
                     num_frames: Sequence[int]) -> Tensor:
    """(B, R, K, 2) key-frame points -> (sum T_b, R, 2): each frame takes the point of its
    nearest key frame (``nearest_key_frames``)."""
    per_sample = []
    for b, (keys, count) in enumerate(zip(key_frame_inds, num_frames)):
        nearest = nearest_key_frames(count, keys).to(points.device)
        per_sample.append(points[b][:, nearest].transpose(0, 1))
    return torch.cat(per_sample, dim=0)


@MODELS.register_module()
class AttentionPointPrompts(nn.Module):
    """Add to each role's prompt SAM's embedding of the point its role token attends to.

    The point of a key frame is the soft-argmax of the role token's attention over that
    frame's visual tokens (mean over the captured layers and heads: the ones the
    Attention Mask Loss supervises, ``ReVIOSa(aml_layers, aml_heads)``); frames that
    are not key frames take the nearest key frame's point.
    """

    uses_point_embedding = True

    @staticmethod
    def _points(attention: RoleAttention) -> Tensor:
        """(B, R, K, 2) attention points of every role on every key frame."""
        return attention_points(attention.rows, attention.input_ids, attention.image_token_id,
                                attention.tokens_per_frame, attention.num_key_frames)

    def add_to_frames(self, frame_prompts: Tensor, attention: RoleAttention,
                      key_frame_inds: Sequence[Sequence[int]], num_frames: Sequence[int],
                      sam2_head: SAM2Head) -> Tensor:
        """(sum T_b, R, C) prompts of every frame of a batch plus their frame's point."""
        frame_points = points_per_frame(self._points(attention), key_frame_inds, num_frames)
        return frame_prompts + sam2_head.embed_points(frame_points)

    def add_to_key_frames(self, key_prompts: Tensor, attention: RoleAttention,
                          roles: List[int], sam2_head: SAM2Head) -> Tensor:
        """(K, R', C) prompts of the roles ``roles`` on the K key frames of one sequence
        (``attention`` of batch 1) plus each key frame's point."""
        points = self._points(attention)  # (1, R, K, 2)
        return key_prompts + sam2_head.embed_points(points[0, roles].transpose(0, 1))


@MODELS.register_module()
class GTPointMaskLoss(nn.Module):
    """Decode every frame from its role prompt plus SAM's embedding of the GT-mask centroid.

    Returns ``loss_gtpoint_{role}_mask`` / ``_dice`` (the head's mask losses, over the
    supervised roles with a non-empty mask), times ``loss_weight``.

    Args:
        loss_weight (float): weight of both terms.
    """

    uses_point_embedding = True

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, inputs: AuxLossInputs, sam2_head: SAM2Head) -> Dict[str, Tensor]:
        gt_points, visible = mask_centroids(inputs.gt_masks > 0.5)
        prompts = inputs.role_prompts + sam2_head.embed_points(gt_points)
        logits = sam2_head.decode(inputs.features, prompts)
        losses = sam2_head.loss_by_role(logits, inputs.gt_masks, inputs.weights * visible,
                                        inputs.role_names, prefix='gtpoint_')
        return {key: value * self.loss_weight for key, value in losses.items()}
