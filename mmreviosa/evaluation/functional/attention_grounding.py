"""How well role-token attention points at the role's object (what the AML teaches)."""
from typing import Dict

import torch


def attention_grounding(maps: torch.Tensor, coverage: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Per-frame grounding of attention distributions over a frame's patches.

    Args:
        maps: (..., P_h, P_w) attention over each frame's patches, summing to 1.
        coverage: (..., P_h, P_w) fraction of each patch covered by the object's mask.

    Returns:
        dict of (...) tensors:
        ``share``: attention mass on the patches the mask touches;
        ``chance``: the share of those patches, i.e. what uniform attention scores;
        ``hit``: 1.0 where the most-attended patch touches the mask;
        ``valid``: bool, the object is visible (other entries are meaningless elsewhere).
    """
    if maps.shape != coverage.shape:
        raise ValueError(f'maps {tuple(maps.shape)} and coverage {tuple(coverage.shape)} differ')
    touched = (coverage > 0).flatten(-2).float()
    flat = maps.flatten(-2).float()
    top = flat.argmax(dim=-1, keepdim=True)
    return dict(share=(flat * touched).sum(-1), chance=touched.mean(-1),
                hit=touched.gather(-1, top).squeeze(-1), valid=touched.sum(-1) > 0)
