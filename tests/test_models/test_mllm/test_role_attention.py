"""Role-row attention capture: equal to eager attention, differentiable."""
import copy

import pytest
import torch
from transformers import (InternVLConfig, InternVLForConditionalGeneration, InternVLVisionConfig,
                          Qwen2Config, Qwen2ForCausalLM)
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from mmreviosa.models.mllm.role_attention import RoleAttentionCapture, register_role_attention

IMAGE_TOKEN_ID = 99
TOKENS_PER_IMAGE = 4  # 32 px, patch 8 -> 4x4 patches, pixel shuffle 0.5 -> 2x2
SEQ_LEN = 20


def qwen2_config():
    # 4 query heads over 2 kv heads: exercises the GQA grouping.
    return Qwen2Config(vocab_size=100, hidden_size=64, intermediate_size=128,
                       num_hidden_layers=3, num_attention_heads=4,
                       num_key_value_heads=2)


def internvl_config():
    vision = InternVLVisionConfig(hidden_size=32, num_hidden_layers=2,
                                  num_attention_heads=2, intermediate_size=64,
                                  image_size=[32, 32], patch_size=[8, 8])
    return InternVLConfig(vision_config=vision, text_config=qwen2_config(),
                          image_token_id=IMAGE_TOKEN_ID,
                          image_seq_length=TOKENS_PER_IMAGE)


def build_pair(model_cls, config, dtype=torch.float32, other='eager'):
    """Same random weights under our implementation and under ``other``."""
    torch.manual_seed(0)
    ours = model_cls._from_config(copy.deepcopy(config),
                                  attn_implementation=register_role_attention(),
                                  dtype=dtype)
    reference = model_cls._from_config(copy.deepcopy(config),
                                       attn_implementation=other, dtype=dtype)
    reference.load_state_dict(ours.state_dict())
    return ours.eval(), reference.eval()


def padded_batch(padding):
    """Two sequences, the second 3 tokens shorter, padded left or right."""
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(0, 90, (2, SEQ_LEN), generator=generator)
    attention_mask = torch.ones(2, SEQ_LEN, dtype=torch.long)
    if padding == 'none':
        role_positions = torch.tensor([[12, 19], [0, 18]])
    elif padding == 'left':
        attention_mask[1, :3] = 0
        role_positions = torch.tensor([[12, 19], [14, 18]])
    else:
        attention_mask[1, -3:] = 0
        role_positions = torch.tensor([[12, 19], [10, 16]])
    return input_ids, attention_mask, role_positions


def eager_rows(attentions, layers, role_positions, heads=None):
    """Pick the role rows out of eager ``(B, H, L, L)`` maps by indexing."""
    rows = []
    for layer in layers:
        per_sample = [attentions[layer][b][:, role_positions[b]]
                      for b in range(role_positions.shape[0])]
        layer_rows = torch.stack(per_sample)  # (B, H, R, L)
        rows.append(layer_rows if heads is None else layer_rows[:, heads])
    return torch.stack(rows, 1)


def test_register_is_idempotent_and_registers_the_mask():
    name = register_role_attention('sdpa')
    assert name == register_role_attention('sdpa') == 'reviosa_sdpa'
    assert name in ALL_ATTENTION_FUNCTIONS.valid_keys()
    # Without it transformers would build no padding mask for this name.
    assert ALL_MASK_ATTENTION_FUNCTIONS[name] is \
        ALL_MASK_ATTENTION_FUNCTIONS['sdpa']
    with pytest.raises(ValueError, match='base must be one of'):
        register_role_attention('eager')


@pytest.mark.parametrize('padding,dtype', [('none', torch.float32),
                                           ('left', torch.float32),
                                           ('right', torch.float32),
                                           ('right', torch.float64)])
def test_qwen2_rows_equal_eager_attention(padding, dtype):
    ours, eager = build_pair(Qwen2ForCausalLM, qwen2_config(), dtype)
    input_ids, attention_mask, role_positions = padded_batch(padding)
    layers, heads = [2, 0], [3, 1]
    with torch.no_grad():
        with RoleAttentionCapture(layers, role_positions) as capture:
            ours(input_ids=input_ids, attention_mask=attention_mask,
                 use_cache=False)
        with RoleAttentionCapture(layers, role_positions,
                                  heads=heads) as head_capture:
            ours(input_ids=input_ids, attention_mask=attention_mask,
                 use_cache=False)
        reference = eager(input_ids=input_ids, attention_mask=attention_mask,
                          output_attentions=True, use_cache=False)
    expected = eager_rows(reference.attentions, layers, role_positions)
    assert capture.attention.shape == (2, 2, 4, 2, SEQ_LEN)
    torch.testing.assert_close(capture.attention, expected.to(
        capture.attention.dtype), atol=1e-6, rtol=0)
    torch.testing.assert_close(
        head_capture.attention,
        eager_rows(reference.attentions, layers, role_positions,
                   heads).to(capture.attention.dtype),
        atol=1e-6, rtol=0)
    # Padded and future keys get exactly zero attention.
    padded_keys = attention_mask[1] == 0
    assert capture.attention[1][..., padded_keys].abs().sum() == 0
    future_keys = torch.arange(SEQ_LEN) > role_positions[1, 0]
    assert capture.attention[1, :, :, 0][..., future_keys].abs().sum() == 0


@pytest.mark.parametrize('padding', ['left', 'right', 'none'])
@pytest.mark.parametrize('sliding_window', [None, 5])
def test_padding_mask_path_of_flash_attention(padding, sliding_window):
    # FlashAttention-2 receives the 2-D padding mask (or None) instead of a
    # 4-D mask; the role-row mask built from it must equal the rows of the
    # 4-D mask transformers builds for SDPA.
    from transformers.masking_utils import (causal_mask_function, sdpa_mask,
                                            sliding_window_causal_mask_function)

    from mmreviosa.models.mllm.role_attention import _role_row_mask
    _, attention_mask, role_positions = padded_batch(padding)
    mask_function = causal_mask_function if sliding_window is None else \
        sliding_window_causal_mask_function(sliding_window)
    full = sdpa_mask(batch_size=2, cache_position=torch.arange(SEQ_LEN),
                     kv_length=SEQ_LEN, mask_function=mask_function,
                     attention_mask=attention_mask.bool(),
                     allow_is_causal_skip=False)
    expected = torch.stack([full[b, :, role_positions[b]] for b in range(2)])
    flash_mask = None if padding == 'none' else attention_mask
    rows = _role_row_mask(flash_mask, role_positions, SEQ_LEN,
                          sliding_window)
    assert torch.equal(rows, expected)
    # The 4-D path gathers the same rows.
    assert torch.equal(
        _role_row_mask(full, role_positions, SEQ_LEN, sliding_window),
        expected)


def test_flash_attention_variant_needs_flash_attn():
    try:
        import flash_attn  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match='needs the flash_attn'):
            register_role_attention('flash_attention_2')
    else:
        name = register_role_attention('flash_attention_2')
        assert name == 'reviosa_flash_attention_2'
        assert ALL_MASK_ATTENTION_FUNCTIONS[name] is \
            ALL_MASK_ATTENTION_FUNCTIONS['flash_attention_2']


@pytest.mark.parametrize('padding', ['left', 'right'])
def test_internvl_rows_equal_eager_and_outputs_unchanged(padding):
    ours, eager = build_pair(InternVLForConditionalGeneration,
                             internvl_config())
    _, sdpa = build_pair(InternVLForConditionalGeneration, internvl_config(),
                         other='sdpa')
    input_ids, attention_mask, role_positions = padded_batch(padding)
    # Two frames per sample, their context tokens after a short prefix.
    input_ids[:, 4:4 + 2 * TOKENS_PER_IMAGE] = IMAGE_TOKEN_ID
    pixel_values = torch.randn(4, 3, 32, 32,
                               generator=torch.Generator().manual_seed(2))
    inputs = dict(input_ids=input_ids, attention_mask=attention_mask,
                  pixel_values=pixel_values, use_cache=False)
    with torch.no_grad():
        # No `model` restriction: the vision tower's (non-causal) attention
        # runs through the same function and must be left alone.
        with RoleAttentionCapture([1, 2], role_positions) as capture:
            logits = ours(**inputs).logits
        reference = eager(**inputs, output_attentions=True)
        sdpa_logits = sdpa(**inputs).logits
    expected = eager_rows(reference.attentions, [1, 2], role_positions)
    torch.testing.assert_close(capture.attention, expected, atol=1e-6,
                               rtol=0)
    assert torch.equal(logits, sdpa_logits)


def test_model_restriction_and_negative_layers():
    ours, _ = build_pair(InternVLForConditionalGeneration, internvl_config())
    input_ids, attention_mask, role_positions = padded_batch('right')
    input_ids[:, 4:8] = IMAGE_TOKEN_ID
    pixel_values = torch.randn(2, 3, 32, 32)
    language_model = ours.model.language_model
    with torch.no_grad():
        with RoleAttentionCapture([-1], role_positions,
                                  model=language_model) as by_model:
            ours(input_ids=input_ids, attention_mask=attention_mask,
                 pixel_values=pixel_values, use_cache=False)
        with RoleAttentionCapture([2], role_positions) as by_index:
            ours(input_ids=input_ids, attention_mask=attention_mask,
                 pixel_values=pixel_values, use_cache=False)
        with RoleAttentionCapture([2], role_positions,
                                  model=ours.model.vision_tower) as outside:
            ours(input_ids=input_ids, attention_mask=attention_mask,
                 pixel_values=pixel_values, use_cache=False)
    assert by_model.layers == [2]
    assert torch.equal(by_model.attention, by_index.attention)
    with pytest.raises(RuntimeError, match=r'layers \[2\] were not captured'):
        outside.attention
    with pytest.raises(ValueError, match='need `model`'):
        RoleAttentionCapture([-1], role_positions)


def lora_internvl():
    from peft import LoraConfig, get_peft_model
    torch.manual_seed(0)
    model = InternVLForConditionalGeneration._from_config(
        internvl_config(), attn_implementation=register_role_attention())
    lora = LoraConfig(
        r=4, lora_alpha=8,
        target_modules=r'.*language_model.*\.(q_proj|k_proj|v_proj|o_proj)')
    model = get_peft_model(model, lora)
    # peft starts lora_B at zero, which would zero lora_A's gradient.
    for name, param in model.named_parameters():
        if 'lora_B' in name:
            torch.nn.init.normal_(param, std=0.1)
    return model


def aml_like_gradients(model, checkpointing, backward_inside):
    """Backward of a loss on the captured rows only; returns LoRA grads."""
    if checkpointing:
        model.gradient_checkpointing_enable(
            gradient_checkpointing_kwargs={'use_reentrant': False})
    model.train()
    input_ids, attention_mask, role_positions = padded_batch('left')
    input_ids[:, 4:8] = IMAGE_TOKEN_ID
    pixel_values = torch.randn(2, 3, 32, 32,
                               generator=torch.Generator().manual_seed(3))
    row_weights = torch.randn(2, 1, 4, 2, SEQ_LEN,
                              generator=torch.Generator().manual_seed(4))
    with RoleAttentionCapture([1], role_positions) as capture:
        model(input_ids=input_ids, attention_mask=attention_mask,
              pixel_values=pixel_values, use_cache=False)
        loss = (capture.attention * row_weights).sum()
        if backward_inside:
            loss.backward()
    if not backward_inside:
        loss.backward()
    return {
        name: param.grad.clone()
        for name, param in model.named_parameters()
        if 'lora_' in name and param.grad is not None
    }


@pytest.mark.parametrize('backward_inside', [True, False])
def test_gradients_reach_lora_with_non_reentrant_checkpointing(
        backward_inside):
    plain = aml_like_gradients(lora_internvl(), False, True)
    checkpointed = aml_like_gradients(lora_internvl(), True, backward_inside)
    for proj in ('q_proj', 'k_proj'):
        for lora in ('lora_A', 'lora_B'):
            name = (f'base_model.model.model.language_model.layers.1.'
                    f'self_attn.{proj}.{lora}.default.weight')
            assert plain[name].abs().sum() > 0, name
    # Layer 2 comes after the captured layer: no gradient can reach it.
    assert not any('layers.2.' in name and grad.abs().sum() > 0
                   for name, grad in plain.items())
    assert not any('vision' in name for name in plain)
    assert plain.keys() == checkpointed.keys()
    for name, grad in plain.items():
        torch.testing.assert_close(checkpointed[name], grad, atol=1e-6,
                                   rtol=1e-5)


def test_gradients_reach_base_q_and_k_projections():
    torch.manual_seed(0)
    model = Qwen2ForCausalLM._from_config(
        qwen2_config(), attn_implementation=register_role_attention())
    model.gradient_checkpointing_enable(
        gradient_checkpointing_kwargs={'use_reentrant': False})
    model.train()
    input_ids, attention_mask, role_positions = padded_batch('right')
    with RoleAttentionCapture([0], role_positions) as capture:
        model(input_ids=input_ids, attention_mask=attention_mask,
              use_cache=False)
    # Attention to the first key of the last role row.
    capture.attention[:, 0, :, 1, 0].sum().backward()
    attention = model.model.layers[0].self_attn
    assert attention.q_proj.weight.grad.abs().sum() > 0
    assert attention.k_proj.weight.grad.abs().sum() > 0


def test_reentrant_checkpointing_is_refused():
    torch.manual_seed(0)
    model = Qwen2ForCausalLM._from_config(
        qwen2_config(), attn_implementation=register_role_attention())
    model.gradient_checkpointing_enable(
        gradient_checkpointing_kwargs={'use_reentrant': True})
    model.train()
    input_ids, attention_mask, role_positions = padded_batch('right')
    # Reentrant checkpointing only runs when some input requires grad.
    inputs_embeds = model.get_input_embeddings()(input_ids).detach()
    inputs_embeds.requires_grad_(True)
    with pytest.raises(RuntimeError, match='use_reentrant'):
        with RoleAttentionCapture([0], role_positions):
            model(inputs_embeds=inputs_embeds, attention_mask=attention_mask,
                  use_cache=False)


def test_bad_positions_are_rejected():
    ours, _ = build_pair(Qwen2ForCausalLM, qwen2_config())
    input_ids, attention_mask, _ = padded_batch('right')
    with pytest.raises(ValueError, match=r'absolute indices in \[0, 20\)'):
        with RoleAttentionCapture([0], torch.tensor([[3], [20]])):
            ours(input_ids=input_ids, attention_mask=attention_mask,
                 use_cache=False)
    with pytest.raises(ValueError, match='shape \\(B, R\\)'):
        RoleAttentionCapture([0], torch.tensor([3, 4]))
