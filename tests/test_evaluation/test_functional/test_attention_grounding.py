"""attention_grounding: share / chance / hit of attention maps against masks, by hand."""
import pytest
import torch

from mmreviosa.evaluation.functional import attention_grounding


def test_grounding_by_hand():
    coverage = torch.zeros(3, 2, 2)
    coverage[0, 0, 1] = 0.5             # object touches the top-right patch only
    coverage[1, 1, :] = 1.0             # the bottom row
    maps = torch.tensor([[[0.1, 0.6], [0.2, 0.1]],
                         [[0.4, 0.3], [0.2, 0.1]],
                         [[0.25, 0.25], [0.25, 0.25]]])
    scores = attention_grounding(maps, coverage)
    assert scores['share'].tolist() == pytest.approx([0.6, 0.3, 0.0])
    assert scores['chance'].tolist() == pytest.approx([0.25, 0.5, 0.0])
    assert scores['hit'].tolist() == [1.0, 0.0, 0.0]
    assert scores['valid'].tolist() == [True, True, False]


def test_uniform_attention_scores_chance():
    coverage = (torch.rand(4, 5, 3, 3) > 0.6).float()
    scores = attention_grounding(torch.full((4, 5, 3, 3), 1 / 9), coverage)
    assert torch.allclose(scores['share'], scores['chance'])


def test_shapes_must_match():
    with pytest.raises(ValueError, match='differ'):
        attention_grounding(torch.rand(2, 4, 4), torch.rand(2, 2, 2))
