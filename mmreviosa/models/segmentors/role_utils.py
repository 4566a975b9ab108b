"""Locate role tokens in token sequences and gather their hidden states."""
from typing import Dict, List, Sequence, Tuple

import torch

from mmreviosa.models.utils import nearest_key_frames
from mmreviosa.text import MODE_ROLE_TOKENS


def find_role_positions(input_ids: torch.Tensor, role_ids: Sequence[int]
                        ) -> Tuple[torch.Tensor, torch.Tensor]:
    """First position of each role token in each sequence.

    Args:
        input_ids (Tensor): (B, L) token ids.
        role_ids (Sequence[int]): R token ids.

    Returns:
        positions (Tensor): (B, R) long; where a role token is absent the
            position of the first present role token (or 0) is used so that
            gathers stay valid, and ``found`` says to ignore it.
        found (Tensor): (B, R) bool.
    """
    assert input_ids.dim() == 2, f'input_ids must be (B, L), got {tuple(input_ids.shape)}'
    hits = torch.stack([input_ids == rid for rid in role_ids], dim=1)  # (B, R, L)
    found = hits.any(dim=-1)
    positions = hits.float().argmax(dim=-1)  # first hit; 0 when absent
    fallback = torch.where(found.any(dim=1), positions.masked_fill(~found, 10**9).min(dim=1).values,
                           torch.zeros_like(positions[:, 0]))
    positions = torch.where(found, positions, fallback[:, None])
    return positions, found


def gather_positions(hidden: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """(B, L, D) hidden states at (B, R) positions -> (B, R, D)."""
    index = positions[..., None].expand(-1, -1, hidden.shape[-1])
    return torch.gather(hidden, 1, index)


def visual_token_positions(input_ids: torch.Tensor, image_token_id: int,
                           num_tokens: List[int]) -> torch.Tensor:
    """Absolute positions of the image-context tokens, per sequence.

    Args:
        input_ids (Tensor): (B, L).
        image_token_id (int): id of ``<IMG_CONTEXT>``.
        num_tokens (list[int]): expected number per sequence (K_b * P * P);
            all equal (the attention loss stacks them).

    Returns:
        Tensor: (B, N) long, in sequence order (frame-major, row-major patches).
    """
    mask = input_ids == image_token_id
    counts = mask.sum(dim=1).tolist()
    if counts != list(num_tokens):
        raise ValueError(f'expected {num_tokens} image tokens per sequence, found {counts}')
    if len(set(counts)) != 1:
        raise ValueError('the Attention Mask Loss needs the same number of key frames in every '
                         f'sample of a batch, got image-token counts {counts}')
    return torch.nonzero(mask, as_tuple=False)[:, 1].view(len(counts), counts[0])


def role_token_ids_of(tokenizer_ids: Dict[str, int], mode: str) -> List[int]:
    """Ids of the role tokens used by ``mode`` ('roles' or 'single')."""
    if mode not in MODE_ROLE_TOKENS:
        raise ValueError(f'role mode must be one of {list(MODE_ROLE_TOKENS)}, got {mode!r}')
    return [tokenizer_ids[t] for t in MODE_ROLE_TOKENS[mode]]


def visual_attention_maps(role_attention: torch.Tensor, visual_positions: torch.Tensor,
                          grid: Sequence[int]) -> torch.Tensor:
    """Role-token attention over each frame's visual tokens, as per-frame distributions.

    Args:
        role_attention (Tensor): (B, n_layers, n_heads, R, L) attention rows.
        visual_positions (Tensor): (B, K * P_h * P_w) positions of the image tokens.
        grid (Sequence[int]): (K, P_h, P_w).

    Returns:
        Tensor: (B, R, K, P_h, P_w) float32, the layer/head mean renormalised to sum
        to 1 over each frame's patches (what the Attention Mask Loss compares with the
        mask's area distribution in ``frame_sum`` mode).
    """
    num_frames, grid_h, grid_w = (int(g) for g in grid)
    batch, _, _, num_roles, _ = role_attention.shape
    mean = role_attention.float().mean(dim=(1, 2))  # (B, R, L)
    index = visual_positions.long()[:, None, :].expand(-1, num_roles, -1)
    maps = mean.gather(2, index).view(batch, num_roles, num_frames, grid_h, grid_w)
    return maps / maps.sum(dim=(-2, -1), keepdim=True).clamp(min=1e-12)


def soft_argmax_points(maps: torch.Tensor) -> torch.Tensor:
    """Expected (x, y) location, in [0, 1] frame fractions, of (..., P_h, P_w)
    distributions over patches (patch centres at ((j + 0.5) / P_w, (i + 0.5) / P_h))."""
    grid_h, grid_w = maps.shape[-2:]
    ys = (torch.arange(grid_h, device=maps.device, dtype=maps.dtype) + 0.5) / grid_h
    xs = (torch.arange(grid_w, device=maps.device, dtype=maps.dtype) + 0.5) / grid_w
    x = (maps.sum(dim=-2) * xs).sum(dim=-1)
    y = (maps.sum(dim=-1) * ys).sum(dim=-1)
    return torch.stack([x, y], dim=-1)


def mask_centroids(masks: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Centroids of (..., H, W) masks in [0, 1] frame fractions (pixel centres at
    (j + 0.5) / W) -> ((..., 2) points (x, y), (...) bool non-empty).  Empty masks
    get the frame centre."""
    masks = masks.float()
    area = masks.sum(dim=(-2, -1))
    points = soft_argmax_points(masks / area.clamp(min=1e-12)[..., None, None])
    has = area > 0
    return torch.where(has[..., None], points, torch.full_like(points, 0.5)), has


def attention_points(role_attention: torch.Tensor, input_ids: torch.Tensor, image_token_id: int,
                     tokens_per_frame: int, num_key_frames: int) -> torch.Tensor:
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


def points_per_frame(points: torch.Tensor, key_frame_inds: Sequence[Sequence[int]],
                     num_frames: Sequence[int]) -> torch.Tensor:
    """(B, R, K, 2) key-frame points -> (sum T_b, R, 2): each frame takes the point of its
    nearest key frame (``nearest_key_frames``)."""
    per_sample = []
    for b, (keys, count) in enumerate(zip(key_frame_inds, num_frames)):
        nearest = nearest_key_frames(count, keys).to(points.device)
        per_sample.append(points[b][:, nearest].transpose(0, 1))
    return torch.cat(per_sample, dim=0)


def mask_pooled_features(features: torch.Tensor, masks: torch.Tensor
                         ) -> Tuple[torch.Tensor, torch.Tensor]:
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
    weights = torch.nn.functional.interpolate(masks.to(features.dtype),
                                              size=features.shape[-2:], mode='area')
    mass = weights.sum(dim=(-2, -1))
    pooled = torch.einsum('nrhw,nchw->nrc', weights, features)
    pooled = pooled / mass.clamp(min=1e-12)[..., None]
    present = masks.flatten(2).amax(dim=-1) > 0.5
    pooled = torch.nn.functional.layer_norm(pooled, pooled.shape[-1:])
    return pooled * present[..., None].to(pooled.dtype), present
