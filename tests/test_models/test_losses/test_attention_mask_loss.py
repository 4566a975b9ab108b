"""Attention Mask Loss: values, skipped rows, gradient scale, registry."""
import math

import pytest
import torch

from mmreviosa.models.losses.attention_mask_loss import AttentionMaskLoss
from mmreviosa.registry import MODELS


def binary_kl(p, q):
    """BCE(p, q) - BCE(q, q) for python floats, 0 log 0 = 0."""

    def xlogy(x, y):
        return 0.0 if x == 0 else x * math.log(y)

    return (-(xlogy(q, p) + xlogy(1 - q, 1 - p)) + xlogy(q, q) +
            xlogy(1 - q, 1 - q))


def reference_loss(attention, visual_positions, masks, valid, grid, mode,
                   eps=1e-6):
    """Slow loop implementation of the documented formulas."""
    frames, grid_h, grid_w = grid
    batch_size, num_layers, num_heads, num_roles, _ = attention.shape
    height, width = masks.shape[-2:]
    cell_h, cell_w = height // grid_h, width // grid_w
    total, count = 0.0, 0
    for b in range(batch_size):
        for r in range(num_roles):
            if valid is not None and not valid[b, r]:
                continue
            visual, cover = [], []
            for t in range(frames):
                for i in range(grid_h):
                    for j in range(grid_w):
                        k = (t * grid_h + i) * grid_w + j
                        position = int(visual_positions[b, k])
                        visual.append(
                            sum(float(attention[b, layer, h, r, position])
                                for layer in range(num_layers)
                                for h in range(num_heads)) /
                            (num_layers * num_heads))
                        block = masks[b, r, t, i * cell_h:(i + 1) * cell_h,
                                      j * cell_w:(j + 1) * cell_w]
                        cover.append(float(block.float().mean()))
            per_frame = grid_h * grid_w
            if mode == 'clip_sum':
                groups = [(visual, cover)]
            else:
                groups = [(visual[t * per_frame:(t + 1) * per_frame],
                           cover[t * per_frame:(t + 1) * per_frame])
                          for t in range(frames)]
            for a, m in groups:
                if mode != 'none' and sum(m) == 0:
                    continue
                if mode in ('frame_sum', 'clip_sum'):
                    p = [x / sum(a) for x in a]
                    q = [x / sum(m) for x in m]
                elif mode == 'frame_max':
                    p, q = [x / max(a) for x in a], m
                else:
                    p, q = a, m
                values = [binary_kl(min(x, 1 - eps), y) for x, y in zip(p, q)]
                total += sum(values) if mode.endswith('sum') else \
                    sum(values) / len(values)
                count += 1
    return total / max(count, 1)


def random_case(seed, batch_size=2, num_roles=2, grid=(2, 2, 2),
                mask_size=4, seq_len=14):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch_size, 2, 3, num_roles, seq_len,
                         generator=generator, dtype=torch.float64)
    attention = logits.softmax(-1)
    num_visual = grid[0] * grid[1] * grid[2]
    visual_positions = torch.stack([
        torch.randperm(seq_len, generator=generator)[:num_visual]
        for _ in range(batch_size)
    ])
    masks = torch.rand(batch_size, num_roles, grid[0], mask_size, mask_size,
                       generator=generator) > 0.6
    return attention, visual_positions, masks


def test_hand_built_example():
    # One row; mean over 2 layers x 2 heads is
    # [0.1, 0.1, 0.2, 0.1, 0.3, 0.2, 0.0]; visual tokens at 2..5 -> a =
    # [0.2, 0.1, 0.3, 0.2], p = a / 0.8 = [1/4, 1/8, 3/8, 1/4].
    mean_row = torch.tensor([0.1, 0.1, 0.2, 0.1, 0.3, 0.2, 0.0])
    offset = torch.tensor([0.05, -0.05, 0.0, 0.02, -0.02, 0.0, 0.0])
    attention = torch.stack([
        torch.stack([mean_row + offset, mean_row - offset]),
        torch.stack([mean_row - offset, mean_row + offset]),
    ])[None, :, :, None, :]  # (1, 2 layers, 2 heads, 1 role, 7)
    # 4x4 mask on a 2x2 grid: top-left patch full, top-right patch half.
    mask = torch.zeros(1, 1, 1, 4, 4)
    mask[..., :2, :2] = 1
    mask[..., :2, 2:3] = 1
    # q = coverage [1, 1/2, 0, 0] / 1.5 = [2/3, 1/3, 0, 0]
    p = [1 / 4, 1 / 8, 3 / 8, 1 / 4]
    q = [2 / 3, 1 / 3, 0, 0]
    expected = sum(
        -(qi * math.log(pi) + (1 - qi) * math.log(1 - pi)) +
        (qi * math.log(qi) if qi else 0) +
        ((1 - qi) * math.log(1 - qi) if qi < 1 else 0)
        for pi, qi in zip(p, q))
    loss = AttentionMaskLoss(loss_weight=2.0)(
        attention, torch.tensor([[2, 3, 4, 5]]), mask, None, (1, 2, 2))
    assert loss.item() == pytest.approx(2 * expected, rel=1e-5)


@pytest.mark.parametrize('mode',
                         ['frame_sum', 'clip_sum', 'frame_max', 'none'])
def test_matches_slow_reference(mode):
    attention, visual_positions, masks = random_case(seed=3)
    masks[0, 1, 1] = False  # an empty frame
    valid = torch.tensor([[True, True], [False, True]])
    loss = AttentionMaskLoss(normalize=mode)(attention, visual_positions,
                                             masks, valid, (2, 2, 2))
    expected = reference_loss(attention, visual_positions, masks, valid,
                              (2, 2, 2), mode)
    assert loss.item() == pytest.approx(expected, rel=1e-5, abs=1e-7)


def test_zero_exactly_when_attention_follows_the_mask():
    # Per frame, attention over visual tokens proportional to the patch
    # coverage (with a different visual mass in each frame) gives 0.
    coverage = torch.tensor([[[1.0, 0.5], [0.0, 0.25]],
                             [[0.0, 0.0], [1.0, 0.0]]])
    binary = torch.zeros(2, 8, 8)
    for t in range(2):
        for i in range(2):
            for j in range(2):
                filled = int(coverage[t, i, j] * 16)
                block = torch.zeros(16)
                block[:filled] = 1
                binary[t, i * 4:(i + 1) * 4, j * 4:(j + 1) * 4] = \
                    block.view(4, 4)
    visual_mass = torch.tensor([0.3, 0.6])
    visual = coverage / coverage.sum((-2, -1), keepdim=True) * \
        visual_mass[:, None, None]
    # 8 visual tokens, then 2 text tokens holding the rest of the mass.
    row = torch.cat([visual.flatten(), torch.tensor([0.05, 0.05])])
    attention = row.view(1, 1, 1, 1, -1)
    positions = torch.arange(8)[None]
    criterion = AttentionMaskLoss()
    assert criterion(attention, positions, binary[None, None], None,
                     (2, 2, 2)).item() == pytest.approx(0, abs=1e-6)
    shuffled = attention[..., torch.tensor([1, 0, 2, 3, 4, 5, 6, 7, 8, 9])]
    assert criterion(shuffled, positions, binary[None, None], None,
                     (2, 2, 2)).item() > 0.01


def test_invalid_rows_contribute_zero_but_stay_in_the_graph():
    attention, visual_positions, masks = random_case(seed=5)
    criterion = AttentionMaskLoss()
    valid = torch.tensor([[True, False], [True, True]])
    garbage = attention.clone()
    garbage[0, :, :, 1] = torch.rand_like(garbage[0, :, :, 1])
    garbage.requires_grad_(True)
    loss = criterion(garbage, visual_positions, masks, valid, (2, 2, 2))
    expected = reference_loss(attention, visual_positions, masks, valid,
                              (2, 2, 2), 'frame_sum')
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    assert garbage.grad is not None
    assert garbage.grad[0, :, :, 1].abs().max() == 0
    assert garbage.grad[0, :, :, 0].abs().max() > 0

    nothing = attention.clone().requires_grad_(True)
    zero = criterion(nothing, visual_positions, masks,
                     torch.zeros(2, 2, dtype=torch.bool), (2, 2, 2))
    zero.backward()
    assert zero.item() == 0
    assert nothing.grad is not None and nothing.grad.abs().max() == 0


def test_gradient_is_well_scaled_unlike_max_normalisation():
    # Two patches outside the mask share the top attention: max-normalised
    # BCE sees p = 0.9999 against q = 0 for the runner-up and its gradient
    # explodes; the default's gradient w.r.t. each logit is bounded by 2
    # (p - q plus two terms in [0, 1]).
    logits = torch.zeros(1, 1, 1, 1, 6)
    logits[..., 2] = 4.0 - 1e-4
    logits[..., 3] = 4.0
    mask = torch.zeros(1, 1, 1, 2, 2)
    mask[..., 0, 0] = 1
    positions = torch.tensor([[0, 1, 2, 3]])
    grads = {}
    for mode in ('frame_sum', 'frame_max'):
        leaf = logits.clone().requires_grad_(True)
        AttentionMaskLoss(normalize=mode)(leaf.softmax(-1), positions, mask,
                                          None, (1, 2, 2)).backward()
        grads[mode] = leaf.grad.abs().max().item()
    assert 0.1 < grads['frame_sum'] <= 2.0
    assert grads['frame_max'] > 1e3


def test_area_resize_of_high_resolution_masks():
    # 'none' compares raw attention with the covered fraction of each patch.
    attention = torch.full((1, 1, 1, 1, 4), 0.25)
    mask = torch.zeros(1, 1, 1, 6, 6)
    mask[..., :3, :3] = 1  # top-left patch fully covered
    mask[..., :1, 3:] = 1  # top-right patch one third covered
    expected = sum(binary_kl(0.25, q) for q in (1.0, 1 / 3, 0.0, 0.0)) / 4
    loss = AttentionMaskLoss(normalize='none')(attention,
                                               torch.tensor([[0, 1, 2, 3]]),
                                               mask, None, (1, 2, 2))
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_built_from_registry_and_shape_errors():
    criterion = MODELS.build(
        dict(type='AttentionMaskLoss', normalize='clip_sum', loss_weight=0.5))
    assert isinstance(criterion, AttentionMaskLoss)
    assert criterion.normalize == 'clip_sum' and criterion.loss_weight == 0.5
    attention, visual_positions, masks = random_case(seed=7)
    with pytest.raises(ValueError, match=r'visual_positions must be'):
        criterion(attention, visual_positions[:, :-1], masks, None,
                  (2, 2, 2))
    with pytest.raises(ValueError, match=r'gt_masks must be'):
        criterion(attention, visual_positions, masks[:, :1], None, (2, 2, 2))
    with pytest.raises(ValueError, match='normalize must be one of'):
        AttentionMaskLoss(normalize='softmax')


@pytest.mark.parametrize('mode', ['frame_sum', 'clip_sum', 'frame_max', 'none'])
def test_non_finite_attention_gives_a_nan_loss_not_a_bce_range_error(mode):
    """A diverged model's NaN attention must reach the loss dict (where FiniteLossHook names
    it), not stop in binary_cross_entropy's input range check."""
    attention, visual_positions, masks = random_case(seed=4)
    attention[0, 0, 0, 0, visual_positions[0, 0]] = float('nan')
    loss = AttentionMaskLoss(normalize=mode)(attention.requires_grad_(), visual_positions,
                                             masks, None, (2, 2, 2))
    assert torch.isnan(loss)
    loss.backward()  # the graph stays usable
    # only the groups that read the NaN are NaN: without that row the loss is finite
    valid = torch.tensor([[False, True], [True, True]])
    assert torch.isfinite(AttentionMaskLoss(normalize=mode)(
        attention.detach(), visual_positions, masks, valid, (2, 2, 2)))
