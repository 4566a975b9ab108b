"""Geometry of the point prompts: attention and mask centroids, per-frame points."""
import pytest
import torch

from mmreviosa.models.training_aids import mask_centroids, points_per_frame, soft_argmax_points


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


def test_points_per_frame_take_the_nearest_key_frames_point():
    points = torch.tensor([[[[0.1, 0.1], [0.9, 0.9]]],        # sample 0: keys 1 and 4 of 6
                           [[[0.3, 0.7], [0.0, 0.2]]]])       # sample 1: keys 2 and 0 of 3
    frames = points_per_frame(points, [[1, 4], [2, 0]], [6, 3])
    assert frames.shape == (9, 1, 2)
    assert frames[:6, 0, 0].tolist() == pytest.approx([0.1, 0.1, 0.1, 0.9, 0.9, 0.9])
    # frame 1 of sample 1 is as near to key 2 as to key 0: the earlier frame (0) wins
    assert frames[6:, 0].tolist() == [pytest.approx([0.0, 0.2]), pytest.approx([0.0, 0.2]),
                                      pytest.approx([0.3, 0.7])]
