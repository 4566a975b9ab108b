"""FiLM of SAM2's image features by the sparse prompt, before the mask decoder."""
from typing import List, Optional, Sequence, Tuple

from torch import Tensor, nn

from mmreviosa.registry import MODELS


@MODELS.register_module()
class PromptFeatureModulation(nn.Module):
    """Scale and shift every decoder input level per channel from the prompt token.

    A prompt adapter of :class:`~mmreviosa.models.heads.SAM2Head`
    (``SAM2Head(prompt_adapter=dict(type='PromptFeatureModulation'))``), which builds it
    with ``prompt_dim`` and the ``channels`` of its decoder's input levels.

    SAM's mask decoder meets a prompt only through the attention of its two-way
    transformer at the image-embedding stride; its high-res skips never see it.
    A decoder trained from scratch learns to follow a *location* prompt that way,
    but hardly a *semantic* one (``benchmarks/bench_prompt_learnability.py``,
    model-zoo.md). Modulating each level by the prompt (FiLM, Perez et al. 2018:
    ``x * (1 + gamma) + beta``) gives the decoder a direct per-channel path.
    Zero-initialised, so the head starts as plain SAM2 (and a pretrained SAM2 is
    unchanged until this trains).

    No pinned library ships FiLM as a module; it is two lines per level.

    Args:
        prompt_dim: channels of the prompt token.
        channels: channels of each feature level to modulate: the image embedding, then
            the high-res skips when the decoder has them.
    """

    def __init__(self, prompt_dim: int, channels: Sequence[int]):
        super().__init__()
        self.channels = list(channels)
        self.linears = nn.ModuleList(nn.Linear(prompt_dim, 2 * c) for c in self.channels)
        for linear in self.linears:
            nn.init.zeros_(linear.weight)
            nn.init.zeros_(linear.bias)

    def modulate_levels(self, prompts: Tensor, levels: Sequence[Tensor]) -> List[Tensor]:
        """(B, prompt_dim) prompts and (B, C_i, h_i, w_i) levels -> modulated levels."""
        assert len(levels) == len(self.linears), (
            f'expected {len(self.linears)} feature levels, got {len(levels)}')
        out = []
        for linear, x in zip(self.linears, levels):
            gamma, beta = linear(prompts).to(x.dtype).chunk(2, dim=-1)
            out.append(x * (1 + gamma[:, :, None, None]) + beta[:, :, None, None])
        return out

    def forward(self, prompts: Tensor, image_embeddings: Tensor,
                high_res_features: Optional[List[Tensor]]
                ) -> Tuple[Tensor, Optional[List[Tensor]]]:
        """Modulate the (B, C, h, w) image embedding and, when present, the high-res skips
        (batch B) by the (B, prompt_dim) prompts; returns them in the same layout."""
        levels = self.modulate_levels(prompts, [image_embeddings] + list(high_res_features or []))
        return levels[0], (levels[1:] if high_res_features is not None else None)
