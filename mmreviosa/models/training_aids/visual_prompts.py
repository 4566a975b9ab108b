"""Visual prompts: each referent's mask-pooled SAM2 embedding, as a prompt and as a target.

A SAM2 decoder and an MLLM trained from scratch hardly meet through the mask loss alone:
the decoder ignores prompts that do not yet carry the referent, and nothing asks the role
token to carry it. Each referent's *visual prompt*, the layer-normalised average of SAM2's
image embedding inside its GT mask, is decoded like a role prompt
(:class:`VisualPromptMaskLoss`: the decoder learns to segment what a prompt looks like)
and is what the role prompt must pick out among the batch's referents
(:class:`VisualPromptAlignLoss`: a direct signal to route the referring words into the
role token). Used by the tiny configs; a pretrained SAM2 already follows prompts.
"""
from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmreviosa.models.heads.sam2_head import SAM2Head
from mmreviosa.models.losses.prompt_alignment import centred_info_nce
from mmreviosa.models.segmentors.plugin_inputs import AuxLossInputs
from mmreviosa.models.segmentors.role_utils import repeat_over_frames
from mmreviosa.registry import MODELS


def mask_pooled_features(features: Tensor, masks: Tensor) -> Tuple[Tensor, Tensor]:
    """Average of each frame's feature map inside each mask, layer-normalised.

    Args:
        features (Tensor): (N, C, h, w) feature maps (e.g. SAM2's image embedding).
        masks (Tensor): (N, R, H, W) masks in [0, 1] at any resolution; each is
            area-resized to h x w, so a pixel counts by the share of a cell it covers.

    Returns:
        pooled (Tensor): (N, R, C), zero mean and unit variance over C (the scale
            of a prompt after ``RoleTokenProjector(out_norm=True)``).
        present (Tensor): (N, R) bool, False for empty masks (their ``pooled`` is 0).
    """
    weights = F.interpolate(masks.to(features.dtype), size=features.shape[-2:], mode='area')
    mass = weights.sum(dim=(-2, -1))
    pooled = torch.einsum('nrhw,nchw->nrc', weights, features)
    pooled = pooled / mass.clamp(min=1e-12)[..., None]
    present = masks.flatten(2).amax(dim=-1) > 0.5
    pooled = F.layer_norm(pooled, pooled.shape[-1:])
    return pooled * present[..., None].to(pooled.dtype), present


@MODELS.register_module()
class VisualPromptMaskLoss(nn.Module):
    """Decode every frame from each referent's visual prompt.

    Returns ``loss_visual_{role}_mask`` / ``_dice`` (the head's mask losses over the
    supervised, non-empty referents) times ``loss_weight``; trains SAM2 (the image
    encoder too, through the pooled embedding), not the MLLM.

    Args:
        loss_weight (float): weight of both terms.
    """

    def __init__(self, loss_weight: float = 1.0):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, inputs: AuxLossInputs, sam2_head: SAM2Head) -> Dict[str, Tensor]:
        pooled, present = mask_pooled_features(inputs.features.image_embeddings,
                                               inputs.gt_masks)
        weights = inputs.weights * present.to(inputs.weights.dtype)
        logits = sam2_head.decode(inputs.features, pooled)
        losses = sam2_head.loss_by_role(logits, inputs.gt_masks, weights, inputs.role_names,
                                        prefix='visual_')
        return {key: value * self.loss_weight for key, value in losses.items()}


@MODELS.register_module()
class VisualPromptAlignLoss(nn.Module):
    """Pull each frame's role prompt towards its referent's visual prompt.

    The visual prompt is a fixed target (no gradient into SAM2); returns
    ``loss_visual_align`` times ``loss_weight``.

    Args:
        mode (str): ``'contrastive'``: InfoNCE of each frame's role prompt among all
            referents' visual prompts in the batch, centred by their mean
            (:func:`centred_info_nce`; from scratch every object first pools to almost
            the same embedding, and only the centred differences tell the MLLM which
            referent to encode). ``'mse'``: the mean squared distance, meant with
            ``RoleTokenProjector(out_norm=True)`` (prompts on the visual prompts' scale).
            model-zoo.md compares the two.
        temperature (float): divides the cosines of ``'contrastive'``.
        loss_weight (float): weight of the loss.
    """

    def __init__(self, mode: str = 'contrastive', temperature: float = 0.1,
                 loss_weight: float = 1.0):
        super().__init__()
        if mode not in ('contrastive', 'mse'):
            raise ValueError(f"mode must be 'contrastive' or 'mse', got {mode!r}")
        self.mode = mode
        self.temperature = temperature
        self.loss_weight = loss_weight

    def forward(self, inputs: AuxLossInputs, sam2_head: SAM2Head) -> Dict[str, Tensor]:
        with torch.no_grad():
            targets, present = mask_pooled_features(inputs.features.image_embeddings,
                                                    inputs.gt_masks)
        weights = inputs.weights * present.to(inputs.weights.dtype)
        return dict(loss_visual_align=self.loss_weight * self._loss(
            inputs.role_prompts, targets, weights, inputs.num_frames))

    def _loss(self, role_prompts: Tensor, targets: Tensor, weights: Tensor,
              num_frames) -> Tensor:
        """Loss of the (N, R, C) frame-wise role prompts and targets, (N, R) weights."""
        if self.mode == 'mse':
            error = (role_prompts - targets).pow(2).mean(dim=-1)  # (N, R)
            return (error * weights).sum() / weights.sum().clamp(min=1)
        # one group per (sample, role): the same referent on its other frames
        ids = torch.arange(len(num_frames) * role_prompts.shape[1], device=role_prompts.device)
        groups = repeat_over_frames(ids.view(len(num_frames), -1), num_frames)  # (N, R)
        return centred_info_nce(role_prompts.flatten(0, 1), targets.flatten(0, 1),
                                groups.flatten(), weights.flatten() > 0, self.temperature)
