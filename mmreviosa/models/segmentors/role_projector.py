"""MLP from the LLM's hidden size to SAM2's prompt space."""
import torch
from torch import nn

from mmreviosa.registry import MODELS


@MODELS.register_module()
class RoleTokenProjector(nn.Module):
    """Map the last-layer hidden state of a role token to a SAM2 sparse prompt.

    Linear -> ReLU -> Linear, as in LISA / Sa2VA's ``text_hidden_fcs``.

    Args:
        in_dim (int): hidden size of the LLM.
        out_dim (int): prompt dimension of SAM2 (256 for the real model).
        hidden_dim (int, optional): defaults to ``in_dim``.
        dropout (float): dropout on the output.
        out_norm (bool): end with a LayerNorm, so that prompts start on the
            scale of SAM2's own decoder tokens (about unit variance per
            channel).  A randomly initialised LLM gives prompts far smaller
            than those tokens, which the decoder then learns to ignore.
    """

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int = None, dropout: float = 0.0,
                 out_norm: bool = False):
        super().__init__()
        hidden_dim = hidden_dim or in_dim
        layers = [nn.Linear(in_dim, hidden_dim), nn.ReLU(inplace=True),
                  nn.Linear(hidden_dim, out_dim), nn.Dropout(dropout)]
        if out_norm:
            layers.append(nn.LayerNorm(out_dim))
        self.layers = nn.Sequential(*layers)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """(..., in_dim) hidden states -> (..., out_dim) prompts."""
        return self.layers(hidden)
