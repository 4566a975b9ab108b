import pytest
import torch

from mmreviosa.models.segmentors.role_utils import (find_role_positions, gather_positions,
                                                    visual_attention_maps, visual_token_positions)
from mmreviosa.models.utils import nearest_key_frames


def test_find_role_positions_first_hit_and_missing():
    ids = torch.tensor([[5, 7, 1, 8, 7],
                        [5, 2, 2, 7, 0],
                        [1, 1, 1, 1, 1]])
    positions, found = find_role_positions(ids, [7, 8])
    assert found.tolist() == [[True, True], [True, False], [False, False]]
    # Present roles: first occurrence. Missing: the first present role's position (or 0).
    assert positions.tolist() == [[1, 3], [3, 3], [0, 0]]


def test_gather_positions_picks_rows():
    hidden = torch.arange(2 * 4 * 3).float().view(2, 4, 3)
    out = gather_positions(hidden, torch.tensor([[0, 3], [2, 2]]))
    assert torch.equal(out[0, 1], hidden[0, 3])
    assert torch.equal(out[1, 0], hidden[1, 2])
    assert out.shape == (2, 2, 3)
    # Rows of several turns of one sequence: row e reads sequence items[e].
    out = gather_positions(hidden, torch.tensor([[0, 3], [1, 1], [2, 0]]), torch.tensor([0, 0, 1]))
    assert torch.equal(out[1, 0], hidden[0, 1]) and torch.equal(out[2, 1], hidden[1, 0])
    assert out.shape == (3, 2, 3)


def test_visual_token_positions_checks_counts():
    ids = torch.tensor([[1, 9, 9, 2], [9, 9, 3, 3]])
    assert visual_token_positions(ids, 9, [2, 2]).tolist() == [[1, 2], [0, 1]]
    with pytest.raises(ValueError, match='expected'):
        visual_token_positions(ids, 9, [3, 2])


def test_visual_attention_maps_match_a_loop():
    torch.manual_seed(0)
    batch, layers, heads, roles, length, frames, grid = 2, 2, 3, 2, 40, 2, 2
    attention = torch.rand(batch, layers, heads, roles, length).softmax(-1)
    positions = torch.stack([torch.arange(5, 13), torch.arange(20, 28)])
    maps = visual_attention_maps(attention, positions, (frames, grid, grid))
    assert maps.shape == (batch, roles, frames, grid, grid)
    for b in range(batch):
        for r in range(roles):
            mean = attention[b, :, :, r].mean(dim=(0, 1))
            for t in range(frames):
                cells = mean[positions[b, t * 4:(t + 1) * 4]]
                expected = (cells / cells.sum()).view(grid, grid)
                assert torch.allclose(maps[b, r, t], expected, atol=1e-6)


def test_nearest_key_frames_ties_go_earlier():
    # keys given out of order: frame 2 is equidistant from frames 0 and 4 -> key 0
    assert nearest_key_frames(7, [4, 0]).tolist() == [1, 1, 1, 0, 0, 0, 0]
    assert nearest_key_frames(3, [1]).tolist() == [0, 0, 0]
