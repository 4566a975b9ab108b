"""Role-token bookkeeping of ReVIOSa: positions, hidden states, attention, GT per frame."""
from itertools import accumulate
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F

from mmreviosa.structures import InterRVOSDataSample
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
    return _first_hits(torch.stack([input_ids == rid for rid in role_ids], dim=1))


def _first_hits(hits: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """(N, R, L) bool -> the first hit of each row and whether there is one, (N, R) each;
    a row without a hit takes the first hit of its sibling rows (or 0)."""
    found = hits.any(dim=-1)
    positions = hits.float().argmax(dim=-1)  # first hit; 0 when absent
    fallback = torch.where(found.any(dim=1), positions.masked_fill(~found, 10**9).min(dim=1).values,
                           torch.zeros_like(positions[:, 0]))
    return torch.where(found, positions, fallback[:, None]), found


def find_turn_role_positions(input_ids: torch.Tensor, role_ids: Sequence[int],
                             num_turns: Sequence[int]) -> Tuple[torch.Tensor, torch.Tensor]:
    """Position of each role token of each turn of each sequence.

    A sequence may hold several turns (a packed item: one expression per turn, answered
    in order). Turn ``k`` begins at the ``k``-th occurrence of the first role token (the
    actor, or [SEG]), turn 1 at the sequence start, and the last turn runs to the end; a
    role's position in a turn is its first occurrence there. With one turn per sequence
    this is :func:`find_role_positions`.

    Args:
        input_ids (Tensor): (B, L) token ids.
        role_ids (Sequence[int]): R token ids, the first one marking the turns.
        num_turns (Sequence[int]): turns of each sequence (B entries).

    Returns:
        positions (Tensor): (E, R) long, E = ``sum(num_turns)``, turns in order, positions
            in their sequence; where a role is absent the position of the turn's first
            present role (or 0), and ``found`` is False.
        found (Tensor): (E, R) bool.
    """
    assert input_ids.dim() == 2 and len(num_turns) == input_ids.shape[0], (
        f'input_ids {tuple(input_ids.shape)} with {len(num_turns)} turn counts')
    if all(n == 1 for n in num_turns):
        return find_role_positions(input_ids, role_ids)
    length = input_ids.shape[1]
    hits = torch.stack([input_ids == rid for rid in role_ids], dim=1)  # (B, R, L)
    # Turn starts: 0, then the 2nd, 3rd... occurrence of the first role token (E in all).
    starts, turn_ends = [], []
    for b, turns in enumerate(num_turns):
        marks = hits[b, 0].nonzero().flatten().tolist()[1:turns]
        bounds = [0, *marks] + [length] * (turns - 1 - len(marks))
        starts.extend(bounds)
        turn_ends.extend(bounds[1:] + [length])
    item = turn_items(num_turns, input_ids.device)
    index = torch.arange(length, device=input_ids.device)
    start = torch.as_tensor(starts, device=input_ids.device)[:, None]
    end = torch.as_tensor(turn_ends, device=input_ids.device)[:, None]
    in_turn = (index >= start) & (index < end)  # (E, L)
    return _first_hits(hits[item] & in_turn[:, None])  # (E, R, L) hits within each turn


def turn_items(num_turns: Sequence[int], device=None) -> torch.Tensor:
    """(E,) long: the sequence (item) of each turn, E = ``sum(num_turns)``."""
    counts = torch.as_tensor(list(num_turns), device=device)
    return torch.repeat_interleave(torch.arange(len(counts), device=device), counts)


def gather_positions(hidden: torch.Tensor, positions: torch.Tensor,
                     items: torch.Tensor = None) -> torch.Tensor:
    """(B, L, D) hidden states at (E, R) positions -> (E, R, D).

    ``items`` (E,): the sequence of each row of ``positions`` (default: row b is sequence b,
    E = B); several rows may share a sequence (the turns of a packed item).
    """
    if items is None:
        items = torch.arange(positions.shape[0], device=positions.device)
    return hidden[items[:, None], positions]


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


def repeat_over_frames(values: torch.Tensor, num_frames: Sequence[int]) -> torch.Tensor:
    """Repeat each sample's (B, ...) values over its frames -> (sum T_b, ...)."""
    counts = torch.as_tensor(num_frames, device=values.device)
    return torch.repeat_interleave(values, counts, dim=0)


def gt_role_masks(data_samples: Sequence[InterRVOSDataSample], num_roles: int, size: int
                  ) -> torch.Tensor:
    """GT masks of the actor (and, with 2 roles, the target) of every frame, resized to
    ``size`` -> (sum T_b, R, size, size) float."""
    per_sample = []
    for sample in data_samples:
        roles = [sample.gt_actor_masks]
        if num_roles == 2:
            roles.append(sample.gt_target_masks)
        masks = torch.stack(roles, dim=1).float()  # (T, R, H, W)
        per_sample.append(F.interpolate(masks, size=(size, size), mode='bilinear',
                                        align_corners=False))
    return torch.cat(per_sample, dim=0)


def key_frame_masks(gt: torch.Tensor, data_samples: Sequence[InterRVOSDataSample],
                    num_frames: Sequence[int]) -> torch.Tensor:
    """(sum T_b, R, S, S) GT masks of every frame -> (B, R, K, S, S) those of each sample's
    key frames (``key_frame_inds``, K of them in every sample)."""
    starts = [0, *accumulate(num_frames)][:-1]
    key_masks = []
    for start, sample in zip(starts, data_samples):
        idx = torch.as_tensor(sample.key_frame_inds, device=gt.device) + start
        key_masks.append(gt[idx].transpose(0, 1))
    return torch.stack(key_masks)


def supervised_roles(data_samples: Sequence[InterRVOSDataSample], found: torch.Tensor,
                     role_ids: Sequence[int]) -> torch.Tensor:
    """(B, R) float: 1 where the role is supervised (the target only with an interaction).

    Raises ValueError naming the (video, expression) pairs whose training answer lacks a
    supervised role token (``found``: (B, R) bool from :func:`find_role_positions`).
    """
    num_roles = len(role_ids)
    weights = torch.ones(len(data_samples), num_roles, device=found.device)
    if num_roles == 2:
        has_target = torch.tensor([bool(s.has_interaction) for s in data_samples],
                                  device=found.device)
        weights[:, 1] = has_target.float()
    missing = (weights > 0) & ~found
    if missing.any():
        bad = [(data_samples[i].video_id, data_samples[i].exp_id)
               for i in missing.any(dim=1).nonzero().flatten().tolist()]
        raise ValueError(f'role tokens {list(role_ids)} missing from the training answer of '
                         f'(video, expression) {bad}; check the pipeline mode')
    return weights
