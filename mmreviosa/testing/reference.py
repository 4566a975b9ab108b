"""Slow, obvious implementations that tests compare the vectorised code with."""
import math
from typing import Hashable, Sequence

import torch


def info_nce_by_loop(queries: Sequence[torch.Tensor], keys: Sequence[torch.Tensor],
                     groups: Sequence[Hashable], temperature: float) -> float:
    """Mean InfoNCE of ``queries[i]`` with positive ``keys[i]``, one pair at a time in float64.

    Keys are centred by their mean; the keys of a query's own group other than its own are
    left out of its softmax (the definition of
    :func:`mmreviosa.models.losses.centred_info_nce` on its valid entries).
    """
    keys = [key.double() for key in keys]
    mean = sum(keys) / len(keys)
    total = 0.0
    for i, query in enumerate(queries):
        query = query.double()
        scores = {}
        for j, key in enumerate(keys):
            if j != i and groups[j] == groups[i]:
                continue
            centred = key - mean
            scores[j] = float(query @ centred / (query.norm() * centred.norm())) / temperature
        total += -scores[i] + math.log(sum(math.exp(score) for score in scores.values()))
    return total / len(queries)
