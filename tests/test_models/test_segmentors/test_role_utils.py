import pytest
import torch

from mmreviosa.models.segmentors.role_utils import (find_role_positions, gather_positions,
                                                    mask_centroids, mask_pooled_features,
                                                    points_per_frame, soft_argmax_points,
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


def test_visual_token_positions_checks_counts():
    ids = torch.tensor([[1, 9, 9, 2], [9, 9, 3, 3]])
    assert visual_token_positions(ids, 9, [2, 2]).tolist() == [[1, 2], [0, 1]]
    with pytest.raises(ValueError, match='expected'):
        visual_token_positions(ids, 9, [3, 2])


def test_soft_argmax_points_of_one_hot_and_split_maps():
    maps = torch.zeros(2, 4, 4)
    maps[0, 1, 2] = 1.0                      # row 1, column 2 -> centre (2.5/4, 1.5/4)
    maps[1, 0, 0] = maps[1, 3, 3] = 0.5      # two corners -> the frame centre
    points = soft_argmax_points(maps)
    assert torch.allclose(points[0], torch.tensor([0.625, 0.375]))
    assert torch.allclose(points[1], torch.tensor([0.5, 0.5]))


def test_mask_centroids_by_hand():
    masks = torch.zeros(3, 8, 8, dtype=torch.bool)
    masks[0, 2:4, 4:8] = True                # rows 2-3, columns 4-7
    masks[1, 7, 0] = True                    # one pixel, bottom-left
    points, visible = mask_centroids(masks)
    # x = mean of (j + 0.5) / 8 over columns 4..7 = 6 / 8; y = mean over rows 2, 3 = 3 / 8
    assert torch.allclose(points[0], torch.tensor([0.75, 0.375]))
    assert torch.allclose(points[1], torch.tensor([0.5 / 8, 7.5 / 8]))
    assert visible.tolist() == [True, True, False]
    assert points[2].tolist() == [0.5, 0.5]  # empty: the frame centre, flagged invisible


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


def test_points_per_frame_take_the_nearest_key_frames_point():
    points = torch.tensor([[[[0.1, 0.1], [0.9, 0.9]]],        # sample 0: keys 1 and 4 of 6
                           [[[0.3, 0.7], [0.0, 0.2]]]])       # sample 1: keys 2 and 0 of 3
    frames = points_per_frame(points, [[1, 4], [2, 0]], [6, 3])
    assert frames.shape == (9, 1, 2)
    assert frames[:6, 0, 0].tolist() == pytest.approx([0.1, 0.1, 0.1, 0.9, 0.9, 0.9])
    # frame 1 of sample 1 is as near to key 2 as to key 0: the earlier frame (0) wins
    assert frames[6:, 0].tolist() == [pytest.approx([0.0, 0.2]), pytest.approx([0.0, 0.2]),
                                      pytest.approx([0.3, 0.7])]


def test_mask_pooled_features_by_hand():
    features = torch.randn(2, 5, 2, 2)  # N=2 frames, C=5, a 2 x 2 grid
    masks = torch.zeros(2, 2, 4, 4)      # R=2 roles at 4 x 4: each cell is 2 x 2 pixels
    masks[0, 0, :2, :2] = 1              # the whole top-left cell
    masks[0, 0, 2, 2] = 1                # and a quarter of the bottom-right one
    masks[1, 0, :, 2:] = 1               # the right column
    # masks[0, 1] and masks[1, 1] are empty
    pooled, present = mask_pooled_features(features, masks)
    f = features
    raw = [(f[0, :, 0, 0] + 0.25 * f[0, :, 1, 1]) / 1.25, (f[1, :, 0, 1] + f[1, :, 1, 1]) / 2]
    for (n, r), vector in zip([(0, 0), (1, 0)], raw):
        expected = (vector - vector.mean()) / torch.sqrt(vector.var(unbiased=False) + 1e-5)
        assert torch.allclose(pooled[n, r], expected, atol=1e-5)
    assert present.tolist() == [[True, False], [True, False]]
    assert pooled[:, 1].abs().sum() == 0
