"""InternVL3 1B/2B: the published architectures on the meta device, and tiny random versions
that keep the presets' non-size fields (ReVIOSa trains and predicts with them, and their role
rows equal eager attention).

InternVL3-1B/2B run on the same native classes as InternVL-2.5 (InternViT-300M-448px-V2_5 with
layer norm and no qk-norm, pixel-shuffle MLP, Qwen2): what differs is the LLM's size and its
query-head grouping (14 over 2 kv heads for Qwen2.5-0.5B, 12 over 2 for Qwen2.5-1.5B), which
the tiny versions keep; the InternVL-2.5 tests use 4 over 2.
"""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from transformers import InternVLForConditionalGeneration

from mmreviosa.models.mllm import InternVLMLLM
from mmreviosa.models.mllm.internvl_config import config_from_dict
from mmreviosa.models.mllm.role_attention import RoleAttentionCapture
from mmreviosa.registry import MODELS
from mmreviosa.testing.tiny import intershapes_batch, with_real_recipe_freezing
from mmreviosa.text import build_tokenizer_from_cfg

# The helpers of the InternVL-2.5 role-row check, in this folder.
from test_role_attention import (IMAGE_TOKEN_ID, SEQ_LEN, TOKENS_PER_IMAGE,  # isort: skip
                                 build_pair, eager_rows, padded_batch)

ROOT = osp.join(osp.dirname(__file__), '..', '..', '..')
TINY_CONFIG = osp.join(ROOT, 'configs', 'reviosa', 'reviosa_tiny_intershapes.py')

# Exact counts of the native model (no role tokens), worked out by hand from the fields:
#   ViT (24 layers of 12,598,272 + embeddings 1,653,760)          304,012,288
#   MLP LayerNorm(4096) + Linear(4096, D) + Linear(D, D)            8,192 + 4097 D + D (D + 1)
#   LLM 2 V D (untied, V = 151674) + L (layer) + D; layer = 2 D^2 + D + 2 (D kv + kv)
#       + 3 D I + 2 D, kv = 2 heads x head_dim (128 for 1B, 256 for 2B)
# 1B (D 896, I 4864, L 24): 304,012,288 + 4,482,816 + 629,697,920
# 2B (D 1536, I 8960, L 28): 304,012,288 + 8,662,016 + 1,776,283,136
# Published (Hugging Face model pages): InternVL3-1B 938M, InternVL3-2B 2.09B.
PUBLISHED = {'internvl3_1b': (938_193_024, 938e6), 'internvl3_2b': (2_088_957_440, 2.09e9)}

# Tiny versions: the preset (published rope_theta, norms, activations, untied lm_head, ViT
# flavour) with sizes shrunk and the query-head grouping kept.
TINY_TEXT = {
    'internvl3_1b': dict(hidden_size=112, num_attention_heads=14, num_key_value_heads=2,
                         num_hidden_layers=3, intermediate_size=128),
    'internvl3_2b': dict(hidden_size=192, num_attention_heads=12, num_key_value_heads=2,
                         num_hidden_layers=3, intermediate_size=128),
}
TINY_VISION = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                   intermediate_size=64, patch_size=[8, 8])


def tiny(preset, image_size, vocab_size, **top_level):
    return dict(preset=preset, vision=dict(TINY_VISION, image_size=[image_size, image_size]),
                text=dict(TINY_TEXT[preset], vocab_size=vocab_size), **top_level)


@pytest.mark.parametrize('preset', sorted(PUBLISHED))
def test_published_architectures_on_meta_device(preset):
    exact, published = PUBLISHED[preset]
    with torch.device('meta'):
        mllm = InternVLMLLM(config=dict(preset=preset))
    assert all(p.is_meta for p in mllm.parameters())
    assert mllm.num_parameters() == exact
    assert abs(exact - published) / published < 0.005
    assert mllm.num_image_tokens == 256 and mllm.image_token_id == 151667
    text = mllm.model.config.text_config
    assert text.vocab_size == 151674 and text.rope_theta == 1e6
    assert not mllm.model.config.tie_word_embeddings
    assert mllm.model.lm_head.weight is not mllm.model.get_input_embeddings().weight


def test_internvl3_2b_fields_are_qwen2_5_1_5b():
    config = config_from_dict(dict(preset='internvl3_2b'))
    text, vision = config.text_config, config.vision_config
    assert (text.hidden_size, text.intermediate_size, text.num_hidden_layers) == (1536, 8960, 28)
    assert (text.num_attention_heads, text.num_key_value_heads) == (12, 2)
    assert text.hidden_size // text.num_attention_heads == 128
    assert text.max_position_embeddings == 32768 and text.rms_norm_eps == 1e-6
    # The ViT of InternVL-2.5 (InternViT-300M-448px-V2_5): no qk-norm, layer norm, qkv bias.
    v25 = config_from_dict(dict(preset='internvl2_5_1b')).vision_config
    assert vision.to_dict() == v25.to_dict()
    assert (vision.use_qk_norm, vision.norm_type, vision.attention_bias) == (
        False, 'layer_norm', True)
    assert config.downsample_ratio == 0.5 and config.vision_feature_layer == -1
    # InternVL3-1B is InternVL-2.5-1B's architecture.
    assert config_from_dict(dict(preset='internvl3_1b')).to_dict() == config_from_dict(
        dict(preset='internvl2_5_1b')).to_dict()


@pytest.mark.parametrize('preset', sorted(TINY_TEXT))
@pytest.mark.parametrize('padding', ['left', 'right'])
def test_tiny_role_rows_equal_eager_attention(preset, padding):
    config = config_from_dict(tiny(preset, 32, 100, image_token_id=IMAGE_TOKEN_ID,
                                   image_seq_length=TOKENS_PER_IMAGE))
    ours, eager = build_pair(InternVLForConditionalGeneration, config)
    _, sdpa = build_pair(InternVLForConditionalGeneration, config, other='sdpa')
    input_ids, attention_mask, role_positions = padded_batch(padding)
    input_ids[:, 4:4 + 2 * TOKENS_PER_IMAGE] = IMAGE_TOKEN_ID
    pixel_values = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    inputs = dict(input_ids=input_ids, attention_mask=attention_mask,
                  pixel_values=pixel_values, use_cache=False)
    with torch.no_grad():
        with RoleAttentionCapture([1, 2], role_positions,
                                  model=ours.model.language_model) as capture:
            logits = ours(**inputs).logits
        reference = eager(**inputs, output_attentions=True)
        sdpa_logits = sdpa(**inputs).logits
    heads = TINY_TEXT[preset]['num_attention_heads']
    assert capture.attention.shape == (2, 2, heads, 2, SEQ_LEN)
    torch.testing.assert_close(capture.attention,
                               eager_rows(reference.attentions, [1, 2], role_positions),
                               atol=1e-6, rtol=0)
    assert torch.equal(logits, sdpa_logits)


def test_missing_internvl3_folder_asks_for_the_native_download(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tokenizer = dict(type='build_role_tokenizer', tokenizer=dict(type='build_tiny_tokenizer'))
    with pytest.raises(FileNotFoundError) as info:
        InternVLMLLM(tokenizer=tokenizer, pretrained='pretrained/InternVL3-2B-hf')
    message = str(info.value)
    assert 'OpenGVLab/InternVL3-2B-hf' in message and 'no conversion' in message
    assert 'internvl2_5_to_hf' not in message


def tiny_reviosa_cfg(preset):
    """The tiny InterShapes config with a tiny InternVL3 as its MLLM, LoRA and frozen LLM."""
    init_default_scope('mmreviosa')
    cfg = Config.fromfile(TINY_CONFIG)
    mllm = cfg.model.mllm
    vocab_size = len(build_tokenizer_from_cfg(copy.deepcopy(mllm.tokenizer)))
    mllm.config = tiny(preset, mllm.config.vision.image_size[0], vocab_size)
    cfg.model = with_real_recipe_freezing(cfg.model)
    return cfg


@pytest.mark.parametrize('preset', sorted(TINY_TEXT))
def test_tiny_reviosa_trains_and_predicts(preset, split_root):
    cfg = tiny_reviosa_cfg(preset)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    assert model.mllm.model.config.text_config.num_attention_heads == \
        TINY_TEXT[preset]['num_attention_heads']
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=2e-3)
    data = model.data_preprocessor(intershapes_batch(cfg, split_root), True)
    totals = []
    model.train()
    for step in range(4):
        optimizer.zero_grad()
        losses = model(**data, mode='loss')
        assert {'loss_aml', 'loss_lm', 'loss_actor_mask'} <= set(losses)
        assert all(torch.isfinite(v) for v in losses.values()), losses
        total = sum(losses.values())
        total.backward()
        if step == 0:
            named = dict(model.named_parameters())
            lora = [g.grad for n, g in named.items() if 'lora_B' in n]
            assert lora and all(g is not None and g.abs().sum() > 0 for g in lora)
            # The role-token rows of the embedding / lm_head (peft trainable tokens).
            rows = [p.grad for n, p in named.items() if 'trainable_tokens_delta' in n]
            assert len(rows) == 2 and all(g is not None and g.abs().sum() > 0 for g in rows)
        optimizer.step()
        totals.append(float(total.detach()))
    assert totals[-1] < totals[0], totals

    model.eval()
    batch = intershapes_batch(cfg, split_root, train=False)
    shapes = [tuple(s.ori_shape) for s in batch['data_samples']]
    frames = [len(s.frame_names) for s in batch['data_samples']]
    model.test_cfg['force_answer'] = 'Sure, it is [SEG_ACT] and [SEG_TAR].<|im_end|>'
    with torch.no_grad():
        out = model(**model.data_preprocessor(batch, False), mode='predict')
    for sample, shape, t in zip(out, shapes, frames):
        assert sample.pred_actor_masks.shape == (t, *shape)
        assert sample.pred_actor_masks.dtype == torch.bool
        assert sample.pred_target_masks.shape == (t, *shape)
