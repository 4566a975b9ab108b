"""Centred InfoNCE of role prompts vs visual prompts: by hand, by a loop, invariances."""
import math

import pytest
import torch

from mmreviosa.models.losses.prompt_alignment import centred_info_nce
from mmreviosa.testing import info_nce_by_loop


def test_two_orthogonal_prompts_by_hand():
    # keys [1, 0] and [0, 1] centre to +-[0.5, -0.5]: cosines +-1/sqrt(2)
    queries = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    loss = centred_info_nce(queries, queries.clone(), torch.tensor([0, 1]),
                            torch.tensor([True, True]), temperature=1.0)
    expected = math.log(1 + math.exp(-2 / math.sqrt(2)))
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_matches_the_loop_with_groups_and_invalid_entries():
    torch.manual_seed(0)
    queries, keys = torch.randn(9, 6), torch.randn(9, 6)
    groups = torch.tensor([0, 0, 0, 1, 1, 2, 3, 3, 4])
    valid = torch.tensor([True, True, False, True, True, True, True, False, True])
    loss = centred_info_nce(queries, keys, groups, valid, temperature=0.3)
    kept = valid.nonzero().flatten().tolist()
    expected = info_nce_by_loop([queries[i] for i in kept], [keys[i] for i in kept],
                                [int(groups[i]) for i in kept], 0.3)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_a_common_key_component_does_not_matter():
    # what makes it work from scratch: all keys alike except for small differences
    torch.manual_seed(1)
    queries, keys = torch.randn(6, 8), torch.randn(6, 8)
    groups, valid = torch.arange(6), torch.ones(6, dtype=torch.bool)
    plain = centred_info_nce(queries, keys, groups, valid)
    shifted = centred_info_nce(queries, keys + 50.0 * torch.randn(8), groups, valid)
    assert shifted.item() == pytest.approx(plain.item(), rel=1e-4)


def test_gradient_reaches_only_the_queries_and_points_to_the_positive():
    torch.manual_seed(2)
    keys = torch.randn(4, 5)
    queries = torch.randn(4, 5, requires_grad=True)
    valid = torch.ones(4, dtype=torch.bool)
    loss = centred_info_nce(queries, keys, torch.arange(4), valid)
    loss.backward()
    step = queries - 0.5 * queries.grad
    assert centred_info_nce(step, keys, torch.arange(4), valid) < loss
    # a query equal to its centred key, far from the others, costs almost nothing
    centred = keys - keys.mean(0)
    assert centred_info_nce(centred * 10, keys, torch.arange(4), valid,
                            temperature=0.01).item() < 1e-3


def test_nothing_valid_is_zero_with_a_graph():
    queries = torch.randn(3, 4, requires_grad=True)
    loss = centred_info_nce(queries, torch.randn(3, 4), torch.arange(3),
                            torch.zeros(3, dtype=torch.bool))
    assert loss.item() == 0.0
    loss.backward()
    assert queries.grad is not None


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match='queries and keys'):
        centred_info_nce(torch.randn(3, 4), torch.randn(3, 5), torch.arange(3),
                         torch.ones(3, dtype=torch.bool))
