"""Contrastive alignment of role prompts with their referents' visual prompts.

Each query (a role prompt on one frame) is classified among every valid key (the
referents' mask-pooled image embeddings in the batch) by cosine similarity: InfoNCE,
with its own key as the positive.  Two choices make it work from the first step of a
model trained from scratch, where the keys of all referents are nearly the same vector:

* Keys are *centred* by the mean of the valid keys before the cosine.  A randomly
  initialised image encoder gives every object almost the same pooled embedding; its
  common component then dominates every cosine, all logits are equal and the loss
  gives the MLLM no direction.  Centring removes it, and leaves the loss unchanged
  when a constant vector is added to every key.
* Entries of the same *group* (the same role of the same sample on its other frames)
  are neither positives nor negatives: they show the same object, so contrasting
  them would ask the prompt to tell frames apart.

Written here because it needs both: mmpretrain's contrastive heads take precomputed
positive/negative similarity pairs, without group masking or key centring.
"""
import torch
import torch.nn.functional as F


def centred_info_nce(queries: torch.Tensor, keys: torch.Tensor, groups: torch.Tensor,
                     valid: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Mean InfoNCE of the valid queries against the valid, batch-centred keys.

    Args:
        queries (Tensor): (M, C) role prompts.
        keys (Tensor): (M, C) their targets, ``keys[i]`` the positive of
            ``queries[i]`` (detach them to train only the queries).
        groups (Tensor): (M,) long; keys of the query's own group other than its
            own are left out of its softmax.
        valid (Tensor): (M,) bool; invalid entries are neither queries nor keys.
        temperature (float): divides the cosine similarities.

    Returns:
        Tensor: scalar, ``mean_i -log softmax_j(cos(q_i, k_j - k̄) / t)[i]`` over
        the valid ``i`` (and ``j`` valid, outside ``i``'s group or ``j = i``),
        with ``k̄`` the mean of the valid keys; 0 with a graph when nothing is valid.
    """
    if queries.shape != keys.shape or queries.dim() != 2:
        raise ValueError(f'queries and keys must both be (M, C), got {tuple(queries.shape)} '
                         f'and {tuple(keys.shape)}')
    if not valid.any():
        return queries.sum() * 0.0
    keys = keys - keys[valid].mean(dim=0)
    logits = F.normalize(queries, dim=-1) @ F.normalize(keys, dim=-1).t() / temperature
    same_group = groups[:, None] == groups[None, :]
    own = torch.eye(len(groups), dtype=torch.bool, device=queries.device)
    excluded = (same_group & ~own) | ~valid[None, :]
    logits = logits.masked_fill(excluded, float('-inf'))
    rows = valid.nonzero().flatten()
    return F.cross_entropy(logits[rows], rows)
