"""Attention Mask Loss: role-token attention over the visual tokens vs GT mask.

For each role token (actor, target) the attention rows of the configured
layers and heads (see ``mmreviosa.models.mllm.role_attention``) are averaged,
restricted to the image-context tokens, reshaped to the patch grid
``(T', P, P)`` and compared by binary cross-entropy with the GT role mask
resized to that grid.

Normalisation (``normalize``), with ``a`` the head/layer-mean attention over
the visual tokens and ``m`` the fraction of each patch the mask covers:

* ``frame_sum``: p = a / sum_frame(a), q = m / sum_frame(m); summed over
  the frame's patches; frames with an empty mask skipped.
* ``clip_sum``: p = a / sum_clip(a), q = m / sum_clip(m); summed over the
  clip's patches; rows with an empty mask in every frame skipped.
* ``frame_max``: p = a / max_frame(a), q = m; mean over the frame's patches;
  frames with an empty mask skipped.
* ``none``: p = a, q = m; mean over the frame's patches; nothing skipped.

Groups (frames, or clips for ``clip_sum``) are then averaged over all valid
groups of the batch.

Default ``frame_sum``, because:

* The raw mass ``a`` is small (typically most attention goes to text tokens
  and the attention sink) and not a per-patch probability, so BCE against ``m`` in
  [0, 1] would mostly push the total image mass up.  Dividing by the frame's
  visual mass turns ``a`` into the softmax of the role query's logits over the
  frame's patches; with ``q`` the mask's area distribution, the summed BCE is
  the cross-entropy of two distributions plus sum(-(1-q) log(1-p)).  Its
  gradient w.r.t. each visual attention logit is ``p - q`` plus two terms in
  [0, 1], so at most 2 in magnitude whatever the attention looks like, zero
  w.r.t. the logits of non-visual tokens (the LLM keeps deciding how much it
  looks at the image) and independent of the visual mass: well scaled from
  the first step.
* Max-normalisation sets p = 1 at the arg-max patch (which then gets no
  gradient) and p close to 1 at patches attended almost as much; outside the
  mask their BCE gradient ``(p - q) / (p (1 - p))`` grows without bound
  (1e4 for p = 0.9999), while a diffuse early attention gives every patch
  p near 1.  Kept as ``frame_max`` for ablations only.
* Per frame, every frame that shows the role teaches where it is; frames where
  the role is absent (empty mask) cannot be expressed by a distribution and
  get zero weight.

Every mode reports BCE(p, q) - BCE(q, q), a per-patch binary KL divergence:
the gradient is that of BCE, and the loss is 0 exactly when p = q.

GT masks at any resolution are resized to the patch grid by area averaging
(``adaptive_avg_pool2d``): each cell is the fraction of its patch the mask
covers, exact when H and W are multiples of the grid, otherwise from
adaptive pooling's slightly overlapping bins.

BCE takes probabilities here (attention is already a softmax) while mmdet's
``CrossEntropyLoss(use_sigmoid=True)`` expects logits, so
``F.binary_cross_entropy`` is used directly, in float32 or wider with autocast
off (autocast refuses it).
"""
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mmreviosa.registry import MODELS

NORMALIZE_MODES = ('frame_sum', 'clip_sum', 'frame_max', 'none')


@MODELS.register_module()
class AttentionMaskLoss(nn.Module):
    """BCE between role-token attention over visual tokens and role masks.

    Args:
        normalize (str): How attention and mask are put on a common scale,
            one of ``'frame_sum'`` (default), ``'clip_sum'``,
            ``'frame_max'``, ``'none'`` (see the module docstring).
        loss_weight (float): Multiplier of the loss.
        eps (float): Floor of the normalisers and margin kept below p = 1.
    """

    def __init__(self,
                 normalize: str = 'frame_sum',
                 loss_weight: float = 1.0,
                 eps: float = 1e-6):
        super().__init__()
        if normalize not in NORMALIZE_MODES:
            raise ValueError(f'AttentionMaskLoss: normalize must be one of '
                             f'{NORMALIZE_MODES}, got {normalize!r}')
        self.normalize = normalize
        self.loss_weight = loss_weight
        self.eps = eps

    def forward(self, role_attention: torch.Tensor,
                visual_positions: torch.Tensor, gt_masks: torch.Tensor,
                valid: Optional[torch.Tensor],
                grid: Sequence[int]) -> torch.Tensor:
        """Compute the weighted loss.

        Args:
            role_attention (Tensor): ``(B, n_layers, n_heads, R, L)``
                attention probabilities of the R role-token rows.
            visual_positions (Tensor): ``(B, N_vis)`` long, absolute
                positions of the image-context tokens, frame-major then
                row-major patches; ``N_vis = T' * P_h * P_w``.
            gt_masks (Tensor): ``(B, R, T', H, W)`` bool/float role masks.
            valid (Tensor, optional): ``(B, R)`` bool; False rows (e.g. the
                target of an expression without interaction, or padding
                rows) contribute 0 while keeping the graph. None = all valid.
            grid (Sequence[int]): ``(T', P_h, P_w)``.

        Returns:
            Tensor: Scalar loss (0 with a graph when nothing is valid).
        """
        num_frames, grid_h, grid_w = (int(size) for size in grid)
        batch_size, _, _, num_roles, _ = role_attention.shape
        self._check_shapes(role_attention, visual_positions, gt_masks, valid,
                           (num_frames, grid_h, grid_w))
        with torch.autocast(role_attention.device.type, enabled=False):
            # At least float32: bf16 cannot resolve p near 1 - eps.
            compute_dtype = torch.promote_types(role_attention.dtype,
                                                torch.float32)
            attention = role_attention.to(compute_dtype).mean(dim=(1, 2))
            index = visual_positions.long()[:, None, :].expand(
                -1, num_roles, -1)
            visual_attention = attention.gather(2, index).view(
                batch_size, num_roles, num_frames, grid_h, grid_w)
            coverage = F.adaptive_avg_pool2d(
                gt_masks.to(compute_dtype).flatten(0, 2),
                (grid_h, grid_w)).view(
                    batch_size, num_roles, num_frames, grid_h, grid_w)
            loss, weight = self._per_group_loss(visual_attention, coverage)
            row_valid = torch.ones(batch_size, num_roles, dtype=torch.bool,
                                   device=loss.device) if valid is None \
                else valid.to(loss.device, torch.bool)
            weight = weight & row_valid.view(
                batch_size, num_roles, *([1] * (weight.dim() - 2)))
            # where (not indexing) keeps every row in the graph: same
            # autograd structure on all ranks, zero gradient for skipped rows.
            loss = torch.where(weight, loss, torch.zeros_like(loss))
            total = loss.sum() / weight.sum().clamp(min=1)
        return self.loss_weight * total

    def _per_group_loss(self, visual_attention: torch.Tensor,
                        coverage: torch.Tensor):
        """Per-frame (or per-clip) binary-KL loss and its validity.

        Args:
            visual_attention (Tensor): ``(B, R, T', P_h, P_w)``.
            coverage (Tensor): ``(B, R, T', P_h, P_w)`` in [0, 1].

        Returns:
            tuple[Tensor, Tensor]: loss and bool weight, both ``(B, R, T')``
            (``(B, R)`` for ``clip_sum``).
        """
        patch_dims = (-3, -2, -1) if self.normalize == 'clip_sum' else (-2, -1)
        mask_area = coverage.sum(patch_dims, keepdim=True)
        has_mask = mask_area.flatten(-len(patch_dims)).squeeze(-1) > 0
        if self.normalize in ('frame_sum', 'clip_sum'):
            prediction = visual_attention / visual_attention.sum(
                patch_dims, keepdim=True).clamp(min=self.eps**2)
            target = coverage / mask_area.clamp(min=self.eps)
        elif self.normalize == 'frame_max':
            prediction = visual_attention / visual_attention.amax(
                patch_dims, keepdim=True).clamp(min=self.eps**2)
            target = coverage
        else:
            prediction, target = visual_attention, coverage
            has_mask = torch.ones_like(has_mask)
        prediction = prediction.clamp(max=1 - self.eps)
        # A diverged model's NaN attention would stop in the input range check
        # of binary_cross_entropy with a cryptic error; its patches get a NaN
        # loss instead, so the non-finite value reaches the loss dict, where
        # training stops naming it (FiniteLossHook).
        finite = torch.isfinite(prediction)
        prediction = torch.where(finite, prediction,
                                 torch.full_like(prediction, 0.5))
        bce = F.binary_cross_entropy(prediction, target, reduction='none')
        target_entropy = -(torch.special.xlogy(target, target) +
                           torch.special.xlogy(1 - target, 1 - target))
        divergence = torch.where(finite, bce - target_entropy,
                                 torch.full_like(bce, float('nan')))
        if self.normalize in ('frame_sum', 'clip_sum'):
            return divergence.sum(patch_dims), has_mask
        return divergence.mean(patch_dims), has_mask

    @staticmethod
    def _check_shapes(role_attention, visual_positions, gt_masks, valid,
                      grid) -> None:
        if role_attention.dim() != 5:
            raise ValueError(
                'AttentionMaskLoss: role_attention must be (B, n_layers, '
                f'n_heads, R, L), got {tuple(role_attention.shape)}')
        batch_size, _, _, num_roles, _ = role_attention.shape
        num_visual = grid[0] * grid[1] * grid[2]
        if tuple(visual_positions.shape) != (batch_size, num_visual):
            raise ValueError(
                'AttentionMaskLoss: visual_positions must be (B, T*P_h*P_w) '
                f'= ({batch_size}, {num_visual}) for grid {tuple(grid)}, got '
                f'{tuple(visual_positions.shape)}')
        if gt_masks.dim() != 5 or tuple(gt_masks.shape[:3]) != (
                batch_size, num_roles, grid[0]):
            raise ValueError(
                'AttentionMaskLoss: gt_masks must be (B, R, T, H, W) = '
                f'({batch_size}, {num_roles}, {grid[0]}, H, W), got '
                f'{tuple(gt_masks.shape)}')
        if valid is not None and tuple(valid.shape) != (batch_size,
                                                        num_roles):
            raise ValueError(
                f'AttentionMaskLoss: valid must be (B, R) = ({batch_size}, '
                f'{num_roles}), got {tuple(valid.shape)}')
