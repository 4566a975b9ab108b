"""Tests of the native-InternVL MLLM wrapper (tiny random model, CPU)."""
import copy

import pytest
import torch
import torch.nn.functional as F

from mmreviosa.models.mllm.internvl import InternVLMLLM
from mmreviosa.models.mllm.internvl_config import config_from_dict
from mmreviosa.testing.tiny import chat_batch
from mmreviosa.text import (build_prompt, build_role_tokenizer, build_tiny_tokenizer,
                            get_special_token_ids)

torch.set_num_threads(1)

TINY = dict(
    vision=dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                intermediate_size=128, image_size=[64, 64], patch_size=[8, 8]),
    text=dict(hidden_size=128, num_hidden_layers=3, num_attention_heads=4,
              num_key_value_heads=2, intermediate_size=256),
    downsample_ratio=0.5)
TOKENS_PER_IMAGE = (64 // 8) ** 2 // 4  # 8x8 patches, pixel shuffle 0.5 -> 4x4
LORA = dict(r=4, lora_alpha=8, lora_dropout=0.0)


@pytest.fixture(scope='module')
def base_tokenizer():
    return build_tiny_tokenizer()


@pytest.fixture(scope='module')
def tokenizer(base_tokenizer):
    return build_role_tokenizer(copy.deepcopy(base_tokenizer))


def build(tokenizer, seed=0, **kwargs):
    torch.manual_seed(seed)
    kwargs.setdefault('config', TINY)
    return InternVLMLLM(tokenizer=tokenizer, **kwargs)


def make_batch(tokenizer, questions, num_frames=1, answer='Sure, it is [SEG_ACT].'):
    """Right-padded (input_ids, attention_mask, labels, pixel_values); loss on the answer."""
    prompts = [build_prompt(q, num_frames, TOKENS_PER_IMAGE) for q in questions]
    return chat_batch(tokenizer, prompts, answer, 64, num_frames)


def test_role_tokens_added_and_embeddings_resized(base_tokenizer, tokenizer, tmp_path):
    from transformers import InternVLForConditionalGeneration
    without_roles = build_role_tokenizer(copy.deepcopy(base_tokenizer), role_tokens=())
    torch.manual_seed(0)
    source = InternVLForConditionalGeneration(config_from_dict(TINY, len(without_roles)))
    source.save_pretrained(str(tmp_path))
    mllm = build(tokenizer, pretrained=str(tmp_path), config=None, lora=LORA)
    assert isinstance(mllm.model, InternVLForConditionalGeneration)

    vocab = tokenizer.get_vocab()
    old_rows = len(without_roles)
    assert len(tokenizer) == old_rows + 3
    assert mllm.role_token_ids == {t: vocab[t] for t in ('[SEG_ACT]', '[SEG_TAR]', '[SEG]')}
    assert sorted(mllm.role_token_ids.values()) == [old_rows, old_rows + 1, old_rows + 2]
    assert mllm.image_token_id == vocab['<IMG_CONTEXT>']
    assert mllm.num_image_tokens == TOKENS_PER_IMAGE
    embed = mllm.model.get_input_embeddings()
    with torch.no_grad():
        rows = embed(torch.arange(len(tokenizer)))
        head = mllm.model.lm_head(torch.eye(mllm.hidden_size)).T  # (V, D) effective weight
    assert rows.shape == (len(tokenizer), 128) and head.shape == (len(tokenizer), 128)
    # Old rows are the loaded ones, untouched by the resize.
    assert torch.equal(rows[:old_rows], source.get_input_embeddings().weight)
    assert torch.allclose(head[:old_rows], source.lm_head.weight, atol=1e-6)


def test_token_id_mismatch_raises(tokenizer):
    mllm = build(tokenizer)
    pipeline_ids = get_special_token_ids(tokenizer)
    mllm.check_token_ids(pipeline_ids)
    wrong = dict(pipeline_ids, **{'[SEG_TAR]': pipeline_ids['[SEG_TAR]'] + 1})
    with pytest.raises(ValueError, match=r'\[SEG_TAR\]'):
        mllm.check_token_ids(wrong)
    # A checkpoint written with other ids refuses to load.
    state = mllm.state_dict()
    state['special_token_ids'] = state['special_token_ids'].flip(0)
    with pytest.raises(ValueError, match='token ids'):
        mllm.load_state_dict(state)


def test_init_weights_keeps_weights(tokenizer):
    from mmengine.model import BaseModule

    class Parent(BaseModule):

        def __init__(self):
            super().__init__()
            self.mllm = build(tokenizer, lora=LORA)

    parent = Parent()
    before = {k: v.clone() for k, v in parent.state_dict().items()}
    parent.init_weights()  # what the MMEngine runner calls before training
    for key, value in parent.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_lora_only_on_language_model(tokenizer):
    from peft import LoraConfig
    from peft.tuners.lora import LoraLayer
    mllm = build(tokenizer, lora=dict(type=LoraConfig, **LORA))
    lora_names = [n for n, m in mllm.named_modules() if isinstance(m, LoraLayer)]
    expected = [f'model.model.language_model.layers.{i}.{m}' for i in range(3)
                for m in ('self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj',
                          'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj')]
    assert sorted(lora_names) == sorted(expected)
    assert not any('lora' in n for n, _ in mllm.vision_model.named_parameters())
    # Plain module names would also hit the vision tower's q/k/v: refused.
    with pytest.raises(ValueError, match='outside the language model'):
        build(tokenizer, lora=dict(LORA, target_modules=['q_proj', 'k_proj', 'v_proj']))


@pytest.mark.parametrize('flags,trainable_parts', [
    (dict(), {'projector'}),
    (dict(freeze_vision_encoder=False, freeze_projector=True), {'vision'}),
    (dict(freeze_llm=False), {'projector', 'llm'}),
])
def test_freeze_flags(tokenizer, flags, trainable_parts):
    mllm = build(tokenizer, **flags)
    parts = dict(vision=mllm.vision_model, projector=mllm.projector,
                 llm=mllm.language_model.layers)
    for name, module in parts.items():
        grads = {p.requires_grad for p in module.parameters()}
        assert grads == {name in trainable_parts}, name
    base_embedding = mllm.model.get_input_embeddings()
    base_embedding = getattr(base_embedding, 'base_layer', base_embedding).weight
    assert base_embedding.requires_grad == ('llm' in trainable_parts)


def test_gradients_reach_lora_and_new_token_rows_only(tokenizer):
    mllm = build(tokenizer, lora=LORA)
    input_ids, mask, labels, pixel_values = make_batch(tokenizer, ['the red ball', 'a box'])
    vocab_size = len(tokenizer)
    with torch.no_grad():
        rows_before = mllm.model.get_input_embeddings()(torch.arange(vocab_size))
        head_before = mllm.model.lm_head(torch.eye(128)).T
    mllm(input_ids, mask, pixel_values, labels=labels).loss.backward()

    trained = set(mllm.trained_parameter_names())
    for name, param in mllm.named_parameters():
        if name not in trained:
            assert not param.requires_grad and param.grad is None, name
    lora_b = [p for n, p in mllm.named_parameters() if 'lora_B' in n]
    assert len(lora_b) == 21 and all(p.grad.abs().sum() > 0 for p in lora_b)
    deltas = [p for n, p in mllm.named_parameters() if 'trainable_tokens_delta' in n]
    assert len(deltas) == 2 and all(p.shape == (3, 128) for p in deltas)
    assert all(p.grad is not None for p in deltas)

    # One step with weight decay moves the role-token rows and nothing else.
    optimizer = torch.optim.AdamW([p for p in mllm.parameters() if p.requires_grad],
                                  lr=0.1, weight_decay=0.5)
    optimizer.step()
    with torch.no_grad():
        rows_after = mllm.model.get_input_embeddings()(torch.arange(vocab_size))
        head_after = mllm.model.lm_head(torch.eye(128)).T
    role_ids = sorted(mllm.role_token_ids.values())
    changed_rows = (rows_after != rows_before).any(1).nonzero().flatten().tolist()
    changed_head = ((head_after - head_before).abs() > 1e-6).any(1).nonzero().flatten().tolist()
    assert changed_rows == role_ids
    assert changed_head == role_ids


def test_forward_loss_is_cross_entropy_on_answer(tokenizer):
    mllm = build(tokenizer, lora=LORA).eval()
    input_ids, mask, labels, pixel_values = make_batch(
        tokenizer, ['the red ball pushing the blue box', 'a box'], num_frames=2)
    out = mllm(input_ids, mask, pixel_values, labels=labels, return_logits=True)
    assert out.hidden_states.shape == (*input_ids.shape, mllm.hidden_size)

    terms = []
    for b in range(input_ids.shape[0]):
        for t in range(1, input_ids.shape[1]):
            if labels[b, t] != -100:
                terms.append(-F.log_softmax(out.logits[b, t - 1], -1)[labels[b, t]])
    assert len(terms) == 2 * len(tokenizer('Sure, it is [SEG_ACT].<|im_end|>')['input_ids'])
    assert torch.allclose(out.loss, torch.stack(terms).mean(), atol=1e-5)
    assert mllm(input_ids, mask, pixel_values).loss is None

    # Hidden states are those of the native model's last layer.
    native = mllm.model(input_ids=input_ids, attention_mask=mask, pixel_values=pixel_values,
                        output_hidden_states=True)
    assert torch.allclose(out.hidden_states, native.hidden_states[-1], atol=1e-5)


def test_image_token_count_must_match_images(tokenizer):
    mllm = build(tokenizer)
    input_ids, mask, _, pixel_values = make_batch(tokenizer, ['a ball'], num_frames=2)
    with pytest.raises(ValueError, match='image tokens'):
        mllm(input_ids, mask, pixel_values[:1])
    with pytest.raises(ValueError, match='pixel_values'):
        mllm(input_ids, mask, pixel_values[:, :, :32, :32])


def test_sequence_longer_than_the_positions_is_an_error(tokenizer):
    """A prompt past max_position_embeddings would run silently with unseen positions."""
    config = copy.deepcopy(TINY)
    config['text']['max_position_embeddings'] = 128
    mllm = build(tokenizer, config=config)
    input_ids, mask, _, pixel_values = make_batch(tokenizer, ['the red ball ' * 40])
    length = input_ids.shape[1]
    assert length > 128
    with pytest.raises(ValueError, match=rf'{length} tokens, more than the 128 positions'):
        mllm(input_ids, mask, pixel_values)
    with pytest.raises(ValueError, match=rf'{length} tokens, more than the 128 positions'):
        mllm.generate(input_ids, mask, pixel_values, max_new_tokens=2)


def test_generate_stops_at_im_end(tokenizer):
    mllm = build(tokenizer).eval()
    im_end = tokenizer.convert_tokens_to_ids('<|im_end|>')
    act, tar = mllm.role_token_ids['[SEG_ACT]'], mllm.role_token_ids['[SEG_TAR]']
    scripts = [[act, tar, im_end, act, act, act], [tar, act, tar, act, im_end, act]]
    step = [0]

    def scripted_logits(module, inputs, output):
        forced = torch.full_like(output, -1e4)
        for b, script in enumerate(scripts):
            forced[b, -1, script[min(step[0], len(script) - 1)]] = 0
        step[0] += 1
        return forced

    mllm.model.lm_head.register_forward_hook(scripted_logits)
    input_ids, mask, _, pixel_values = make_batch(tokenizer, ['the red ball', 'a box'])
    prompt_len = int((mask.sum(1)).min())
    new_tokens = mllm.generate(input_ids[:, :prompt_len], mask[:, :prompt_len],
                               pixel_values, max_new_tokens=10)
    pad = tokenizer.pad_token_id
    assert new_tokens.tolist() == [[act, tar, im_end, pad, pad], [tar, act, tar, act, im_end]]


def test_generate_right_padded_batch_matches_single(tokenizer):
    mllm = build(tokenizer).eval()
    questions = ['the red ball pushing the blue box', 'a box']
    prompts = [tokenizer(build_prompt(q, 1, TOKENS_PER_IMAGE), add_special_tokens=False)
               ['input_ids'] for q in questions]
    length = max(map(len, prompts))
    input_ids = torch.full((2, length), tokenizer.pad_token_id)
    mask = torch.zeros(2, length, dtype=torch.long)
    for i, prompt in enumerate(prompts):
        input_ids[i, :len(prompt)], mask[i, :len(prompt)] = torch.tensor(prompt), 1
    pixel_values = torch.randn(2, 3, 64, 64)
    batch = mllm.generate(input_ids, mask, pixel_values, max_new_tokens=4)
    for i, prompt in enumerate(prompts):
        single = mllm.generate(torch.tensor([prompt]), None, pixel_values[i:i + 1],
                               max_new_tokens=4)
        assert batch[i, :single.shape[1]].tolist() == single[0].tolist()


def test_gradient_checkpointing_keeps_gradients(tokenizer):
    batch = make_batch(tokenizer, ['the red ball', 'a box'])
    grads = []
    for checkpointing in (False, True):
        mllm = build(tokenizer, lora=LORA, gradient_checkpointing=checkpointing).train()
        mllm(batch[0], batch[1], batch[3], labels=batch[2]).loss.backward()
        grads.append({n: p.grad for n, p in mllm.named_parameters() if p.requires_grad})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        assert torch.allclose(grads[0][name], grads[1][name], atol=1e-6), name


def test_custom_attention_runs_in_language_model_only(tokenizer):
    from transformers import AttentionInterface
    from transformers.integrations.sdpa_attention import sdpa_attention_forward
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
    calls = []

    def counting_attention(module, *args, **kwargs):
        calls.append(type(module).__name__)
        return sdpa_attention_forward(module, *args, **kwargs)

    AttentionInterface.register('test_counting', counting_attention)
    AttentionMaskInterface.register('test_counting', sdpa_mask)
    input_ids, mask, _, pixel_values = make_batch(tokenizer, ['a box', 'the red ball'])
    reference = build(tokenizer).eval()(input_ids, mask, pixel_values).hidden_states
    mllm = build(tokenizer, attn_implementation='test_counting').eval()
    hidden = mllm(input_ids, mask, pixel_values).hidden_states
    assert calls == ['Qwen2Attention'] * 3
    assert torch.allclose(hidden, reference, atol=1e-5)


def test_trained_only_state_dict_round_trip(tokenizer):
    mllm = build(tokenizer, lora=LORA, save_trained_only=True).eval()
    with torch.no_grad():
        for name, param in mllm.named_parameters():
            if param.requires_grad:
                param.add_(0.05 * torch.randn_like(param))
    state = mllm.state_dict()
    assert set(state) == set(mllm.trained_parameter_names()) | {'special_token_ids'}
    assert not any('vision_tower' in k for k in state)
    # Random-weight models save everything by default (their frozen weights are not on disk).
    assert len(build(tokenizer, lora=LORA).state_dict()) > len(state)

    restored = build(tokenizer, lora=LORA).eval()
    result = restored.load_state_dict(state, strict=False)
    assert not result.unexpected_keys
    batch = make_batch(tokenizer, ['a box'])
    expected = mllm(batch[0], batch[1], batch[3], return_logits=True).logits
    assert torch.allclose(restored(batch[0], batch[1], batch[3], return_logits=True).logits,
                          expected, atol=1e-6)


def test_merge_lora_gives_plain_native_model(tokenizer, tmp_path):
    from transformers import InternVLForConditionalGeneration
    mllm = build(tokenizer, lora=LORA).eval()
    with torch.no_grad():
        for name, param in mllm.named_parameters():
            if 'lora_B' in name or 'trainable_tokens_delta' in name:
                param.add_(0.1 * torch.randn_like(param))
    input_ids, mask, _, pixel_values = make_batch(tokenizer, ['the red ball'])
    expected = mllm(input_ids, mask, pixel_values, return_logits=True).logits
    merged = mllm.merge_lora()
    assert type(merged) is InternVLForConditionalGeneration
    plain_keys = set(InternVLForConditionalGeneration(merged.config).state_dict())
    assert set(merged.state_dict()) == plain_keys
    merged.save_pretrained(str(tmp_path))
    reloaded = InternVLForConditionalGeneration.from_pretrained(str(tmp_path)).eval()
    logits = reloaded(input_ids=input_ids, attention_mask=mask, pixel_values=pixel_values).logits
    assert torch.allclose(logits, expected, atol=1e-4)


def test_real_architectures_on_meta_device():
    # Published sizes: InternVL2.5-1B 938M, InternVL2.5-4B 3.71B parameters.
    for preset, published in (('internvl2_5_1b', 938e6), ('internvl2_5_4b', 3.71e9)):
        with torch.device('meta'):
            mllm = InternVLMLLM(config=dict(preset=preset))
        assert all(p.is_meta for p in mllm.parameters())
        assert abs(mllm.num_parameters() - published) / published < 0.02, preset
        assert mllm.num_image_tokens == 256
