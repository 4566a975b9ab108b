"""Training losses of :class:`~mmreviosa.models.segmentors.ReVIOSa` besides the LM loss."""
from itertools import accumulate
from typing import Dict, List

import torch
import torch.nn.functional as F

from mmreviosa.structures import InterRVOSDataSample

from ..losses.prompt_alignment import centred_info_nce
from .role_utils import mask_centroids, mask_pooled_features, visual_token_positions


class ReVIOSaLossMixin:
    """GT bookkeeping, mask losses, the auxiliary decodes and the AML of ReVIOSa.

    Reads ``num_roles``, ``role_ids``, ``sam2_head``, ``mllm``, ``loss_aml``, ``_frames_prompts``,
    ``point_aux_weight``, ``visual_aux_weight``, ``visual_align_weight``, ``visual_align`` and
    ``visual_align_temperature`` of the model.
    """

    def _gt_role_masks(self, data_samples: List[InterRVOSDataSample], size: int
                       ) -> torch.Tensor:
        """GT masks of every role, resized to ``size`` -> (sum T_b, R, size, size) float."""
        per_sample = []
        for sample in data_samples:
            roles = [sample.gt_actor_masks]
            if self.num_roles == 2:
                roles.append(sample.gt_target_masks)
            masks = torch.stack(roles, dim=1).float()  # (T, R, H, W)
            per_sample.append(F.interpolate(masks, size=(size, size), mode='bilinear',
                                            align_corners=False))
        return torch.cat(per_sample, dim=0)

    def _role_weights(self, data_samples: List[InterRVOSDataSample], found: torch.Tensor
                      ) -> torch.Tensor:
        """(B, R) float: 1 where the role is supervised (target only with an interaction)."""
        weights = torch.ones(len(data_samples), self.num_roles, device=found.device)
        if self.num_roles == 2:
            has_target = torch.tensor([bool(s.has_interaction) for s in data_samples],
                                      device=found.device)
            weights[:, 1] = has_target.float()
        missing = (weights > 0) & ~found
        if missing.any():
            bad = [(data_samples[i].video_id, data_samples[i].exp_id)
                   for i in missing.any(dim=1).nonzero().flatten().tolist()]
            raise ValueError(f'role tokens {self.role_ids} missing from the training answer of '
                             f'(video, expression) {bad}; check the pipeline mode')
        return weights

    def _point_aux_losses(self, feats, role_prompts: torch.Tensor, gt: torch.Tensor,
                          weights: torch.Tensor, names: tuple) -> Dict[str, torch.Tensor]:
        """Decode from the role prompts plus the GT-centroid point (``point_aux_weight``)."""
        gt_points, visible = mask_centroids(gt > 0.5)
        logits = self.sam2_head.decode(feats, role_prompts + self.sam2_head.embed_points(gt_points))
        losses = {}
        self._add_mask_losses(losses, logits, gt, weights * visible, names, 'gtpoint_',
                              self.point_aux_weight)
        return losses

    def _visual_prompt_losses(self, feats, role_prompts: torch.Tensor, gt: torch.Tensor,
                              weights: torch.Tensor, names: tuple, num_frames: List[int]
                              ) -> Dict[str, torch.Tensor]:
        """Decode from each referent's mask-pooled SAM2 embedding, and pull the role
        prompts towards it (see ``visual_aux_weight`` / ``visual_align_weight``)."""
        pooled, present = mask_pooled_features(feats.image_embeddings, gt)
        weights = weights * present.to(weights.dtype)
        losses = {}
        if self.visual_aux_weight:
            self._add_mask_losses(losses, self.sam2_head.decode(feats, pooled), gt, weights,
                                  names, 'visual_', self.visual_aux_weight)
        if self.visual_align_weight:
            losses['loss_visual_align'] = self.visual_align_weight * self._visual_align_loss(
                role_prompts, pooled.detach(), weights, num_frames)
        return losses

    def _visual_align_loss(self, role_prompts: torch.Tensor, targets: torch.Tensor,
                           weights: torch.Tensor, num_frames: List[int]) -> torch.Tensor:
        """``visual_align`` loss of the (N, R, C) frame-wise role prompts and targets."""
        if self.visual_align == 'mse':
            error = (role_prompts - targets).pow(2).mean(dim=-1)  # (N, R)
            return (error * weights).sum() / weights.sum().clamp(min=1)
        # one group per (sample, role): the same referent on its other frames
        ids = torch.arange(len(num_frames) * role_prompts.shape[1], device=role_prompts.device)
        groups = self._frames_prompts(ids.view(len(num_frames), -1), num_frames)  # (N, R)
        return centred_info_nce(role_prompts.flatten(0, 1), targets.flatten(0, 1),
                                groups.flatten(), weights.flatten() > 0,
                                self.visual_align_temperature)

    def _add_mask_losses(self, losses: dict, logits: torch.Tensor, gt: torch.Tensor,
                         weights: torch.Tensor, names: tuple, prefix: str,
                         scale: float = 1.0) -> None:
        """``loss_{prefix}{role}_mask`` / ``_dice`` of each role, times ``scale``, into
        ``losses``."""
        for r, name in enumerate(names):
            role_losses = self.sam2_head.loss(logits[:, r:r + 1], gt[:, r:r + 1],
                                              weights[:, r:r + 1])
            for key, value in role_losses.items():
                losses[key.replace('loss_', f'loss_{prefix}{name}_', 1)] = value * scale

    def _aml_loss(self, role_attention: torch.Tensor, input_ids: torch.Tensor, inputs: dict,
                  gt: torch.Tensor, weights: torch.Tensor,
                  data_samples: List[InterRVOSDataSample]) -> torch.Tensor:
        """Attention Mask Loss over the key frames of each sample."""
        tokens_per_frame = self.mllm.num_image_tokens
        num_key = inputs['num_key_frames']
        visual_pos = visual_token_positions(input_ids, self.mllm.image_token_id,
                                            [k * tokens_per_frame for k in num_key])
        grid = int(round(tokens_per_frame ** 0.5))
        # GT masks of the key frames: (B, R, K, S, S)
        starts = [0, *accumulate(inputs['num_frames'])][:-1]
        key_masks = []
        for b, sample in enumerate(data_samples):
            idx = torch.as_tensor(sample.key_frame_inds, device=gt.device) + starts[b]
            key_masks.append(gt[idx].transpose(0, 1))
        key_masks = torch.stack(key_masks)
        return self.loss_aml(role_attention, visual_pos, key_masks, weights > 0,
                             (num_key[0], grid, grid))
