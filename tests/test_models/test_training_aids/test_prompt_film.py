"""The prompt FiLM as the SAM2 head's prompt adapter."""
import torch

from mmreviosa.models.heads.sam2_head import SAM2Head

TINY = dict(image_size=64, embed_dim=32, mem_dim=16)


def tiny_head(seed=0, **kwargs):
    torch.manual_seed(seed)
    return SAM2Head(model_cfg=dict(TINY), **kwargs)


def test_prompt_film_in_the_head_is_plain_sam2_at_init_then_modulates_every_level():
    plain = tiny_head(seed=3)
    film = tiny_head(seed=3, prompt_adapter=dict(type='PromptFeatureModulation'))
    assert film.prompt_adapter.channels == [32, 4, 8]  # embedding, conv_s0, conv_s1
    pixels, prompts = torch.randn(3, 3, 64, 64), torch.randn(3, 2, 32)
    with torch.no_grad():
        expected = plain.decode(plain.extract_features(pixels), prompts)
        assert torch.allclose(film.decode(film.extract_features(pixels), prompts), expected,
                              atol=1e-6)
    # FiLM by hand: level * (1 + gamma) + beta, gamma and beta from the prompt
    levels = [torch.randn(2, c, 4, 4) for c in (32, 4, 8)]
    prompt = torch.randn(2, 32)
    for linear in film.prompt_adapter.linears:
        torch.nn.init.normal_(linear.weight)
        torch.nn.init.normal_(linear.bias)
    out = film.prompt_adapter.modulate_levels(prompt, levels)
    for linear, x, y in zip(film.prompt_adapter.linears, levels, out):
        c = x.shape[1]
        gamma = prompt @ linear.weight[:c].T + linear.bias[:c]
        beta = prompt @ linear.weight[c:].T + linear.bias[c:]
        assert torch.allclose(y, x * (1 + gamma[:, :, None, None]) + beta[:, :, None, None],
                              atol=1e-5)
    # trained through the mask loss like the rest of the decoder (no unused parameters)
    film.train()
    logits = film.decode(film.extract_features(pixels), prompts)
    sum(film.loss(logits, torch.rand(3, 2, 64, 64) > 0.5, torch.ones(3, 2)).values()).backward()
    unused = [n for n, p in film.named_parameters() if p.requires_grad and p.grad is None]
    assert unused == []
    assert all(linear.weight.grad.abs().sum() > 0 for linear in film.prompt_adapter.linears)
