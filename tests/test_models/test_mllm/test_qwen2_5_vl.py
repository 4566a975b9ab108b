"""Tests of the native Qwen2.5-VL MLLM wrapper (tiny random model, CPU) and of its inputs."""
import copy
import os.path as osp

import numpy as np
import pytest
import torch

from mmreviosa.models.mllm.qwen2_5_vl import QwenVLMLLM
from mmreviosa.models.mllm.qwen2_5_vl_patches import patchify_images
from mmreviosa.models.mllm.role_attention import RoleAttentionCapture
from mmreviosa.testing.tiny import chat_batch
from mmreviosa.text import (QWEN_VL_IMAGE_TOKENS, SPECIAL_TOKENS, build_qwen_vl_prompt,
                            build_role_tokenizer, build_tiny_tokenizer, get_special_token_ids)
from test_role_attention import eager_rows  # isort: skip

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGE_SIZE = 64
TOKENS_PER_IMAGE = (IMAGE_SIZE // 8 // 2) ** 2  # 8x8 patches of 8 px, merged 2x2 -> 4x4
TINY = dict(
    vision=dict(depth=2, hidden_size=32, num_heads=2, intermediate_size=64, patch_size=8,
                window_size=32, fullatt_block_indexes=[1]),
    # head_dim 16: M-RoPE sections of its 8 frequencies (temporal, height, width)
    text=dict(hidden_size=64, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
              intermediate_size=128, max_position_embeddings=512,
              rope_scaling={'type': 'mrope', 'mrope_section': [2, 3, 3]}))
LORA = dict(r=4, lora_alpha=8, lora_dropout=0.0)
CONFIG = osp.join(osp.dirname(__file__), '..', '..', '..', 'configs', 'reviosa',
                  'reviosa_qwen2_5vl_3b.py')


@pytest.fixture(scope='module')
def tokenizer():
    return build_role_tokenizer(build_tiny_tokenizer(), extra_tokens=QWEN_VL_IMAGE_TOKENS)


def build(tokenizer, seed=0, **kwargs):
    torch.manual_seed(seed)
    kwargs.setdefault('config', TINY)
    return QwenVLMLLM(tokenizer=tokenizer, image_size=IMAGE_SIZE, **kwargs)


def make_batch(tokenizer, questions, num_frames=2, answer='Sure, it is [SEG_ACT].', left=False):
    """Padded (input_ids, attention_mask, labels, pixel_values); loss on the answer."""
    prompts = [build_qwen_vl_prompt(q, num_frames, TOKENS_PER_IMAGE) for q in questions]
    return chat_batch(tokenizer, prompts, answer, IMAGE_SIZE, num_frames, left=left)


# ----------------------------------------------------------------------------- inputs
def test_patchify_equals_the_published_image_processor():
    from transformers import Qwen2VLImageProcessor
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (56, 56, 3), dtype=np.uint8) for _ in range(2)]
    processor = Qwen2VLImageProcessor(do_resize=False, image_mean=list(CLIP_MEAN),
                                      image_std=list(CLIP_STD))
    expected = processor(images=images, return_tensors='pt')
    # What the data preprocessor gives: (x - mean * 255) / (std * 255) on the 0-255 frames.
    frames = torch.stack([torch.from_numpy(im).permute(2, 0, 1).float() for im in images])
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1) * 255
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1) * 255
    patches, grid_thw = patchify_images((frames - mean) / std)
    assert grid_thw.tolist() == expected['image_grid_thw'].tolist() == [[1, 4, 4]] * 2
    assert patches.shape == expected['pixel_values'].shape == (2 * 16, 3 * 2 * 14 * 14)
    torch.testing.assert_close(patches, expected['pixel_values'].float(), atol=1e-5, rtol=1e-5)


def test_patchify_rejects_sizes_the_merge_cannot_fold():
    with pytest.raises(ValueError, match='multiple of patch_size x merge_size = 28'):
        patchify_images(torch.zeros(1, 3, 42, 42))


def test_qwen_vl_prompt_is_the_published_template():
    # Qwen2.5-VL-Instruct's chat_template.json for messages=[{'role': 'user', 'content':
    # [{'type': 'image'}, {'type': 'image'}, {'type': 'text', 'text': Q}]}] with
    # add_generation_prompt=True (default system turn added), <|image_pad|> then repeated
    # once per merged token by the processor (here 3).
    question = 'Please segment the red ball.'
    expected = ('<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n'
                '<|im_start|>user\n'
                '<|vision_start|><|image_pad|><|image_pad|><|image_pad|><|vision_end|>'
                '<|vision_start|><|image_pad|><|image_pad|><|image_pad|><|vision_end|>'
                'Please segment the red ball.<|im_end|>\n'
                '<|im_start|>assistant\n')
    assert build_qwen_vl_prompt(question, 2, 3) == expected
    assert build_qwen_vl_prompt(question, 1, 1, system_prompt='') == (
        '<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>'
        'Please segment the red ball.<|im_end|>\n<|im_start|>assistant\n')


def test_tokenize_conversation_writes_the_qwen_vl_chat(tokenizer):
    from mmreviosa.datasets.transforms import TokenizeConversation
    transform = TokenizeConversation(tokenizer, num_image_tokens=2, chat_format='qwen2_5_vl')
    results = transform(dict(expression='the red ball pushing the blue box.',
                             has_interaction=True, key_frame_inds=[0, 3]))
    text = tokenizer.decode(results['input_ids'].tolist(), skip_special_tokens=False)
    question = ('Please segment the actor and, if it interacts with another object, the target '
                'in this video: the red ball pushing the blue box.')
    image = '<|vision_start|><|image_pad|><|image_pad|><|vision_end|>'
    assert text == ('<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n'
                    f'<|im_start|>user\n{image}{image}{question}<|im_end|>\n'
                    '<|im_start|>assistant\nSure, it is [SEG_ACT] and [SEG_TAR].<|im_end|>')
    answer = tokenizer('Sure, it is [SEG_ACT] and [SEG_TAR].<|im_end|>',
                       add_special_tokens=False)['input_ids']
    labels = results['labels'].tolist()
    assert labels[-len(answer):] == answer and set(labels[:-len(answer)]) == {-100}
    with pytest.raises(ValueError, match='chat_format'):
        TokenizeConversation(tokenizer, num_image_tokens=2, chat_format='llava')


# ----------------------------------------------------------------------------- model
def test_role_and_image_tokens(tokenizer):
    model = build(tokenizer)
    vocab = tokenizer.get_vocab()
    assert model.token_ids == get_special_token_ids(tokenizer)
    assert model.special_token_ids.tolist() == [vocab[t] for t in SPECIAL_TOKENS]
    assert model.image_token_id == vocab['<|image_pad|>']
    assert model.model.config.vision_start_token_id == vocab['<|vision_start|>']
    assert model.num_image_tokens == TOKENS_PER_IMAGE
    assert model.model.get_input_embeddings().weight.shape[0] == len(tokenizer)
    with pytest.raises(ValueError, match='differ from the model'):
        model.check_token_ids({'[SEG_ACT]': vocab['[SEG_ACT]'] + 1})
    with pytest.raises(KeyError, match='extra_tokens=QWEN_VL_IMAGE_TOKENS'):
        build(build_role_tokenizer(build_tiny_tokenizer()))


def test_lora_on_language_model_only_and_gradients(tokenizer):
    model = build(tokenizer, lora=LORA)
    names = model.trained_parameter_names()
    lora = [n for n in names if 'lora_' in n]
    assert lora and all('model.language_model.layers.' in n for n in lora)
    assert not any('visual.blocks' in n or 'patch_embed' in n for n in names)
    assert any('visual.merger' in n for n in names)
    input_ids, mask, labels, pixels = make_batch(tokenizer, ['a', 'the red ball'])
    out = model(input_ids, mask, pixels, labels)
    assert out.hidden_states.shape == (2, input_ids.shape[1], 64)
    out.loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    assert any(g is not None and g.abs().sum() > 0 for n, g in grads.items() if 'lora_B' in n)
    rows = [g for n, g in grads.items() if 'embed_tokens' in n and 'trainable_tokens' in n]
    assert rows and rows[0].abs().sum() > 0
    assert all(grads[n] is not None and grads[n].abs().sum() > 0 for n in grads if 'merger' in n)
    assert all(p.grad is None for p in model.parameters() if not p.requires_grad)


def test_hidden_states_are_the_native_models_with_mrope(tokenizer):
    """The wrapper's forward is the native one on processor-layout inputs; M-RoPE positions
    are 3-D over the images and survive padding."""
    model = build(tokenizer).eval()
    input_ids, mask, _, pixels = make_batch(tokenizer, ['a', 'the red ball pushing'])
    patches, grid = patchify_images(pixels, 8)
    with torch.no_grad():
        ours = model(input_ids, mask, pixels).hidden_states
        native = model.model(input_ids=input_ids, attention_mask=mask, pixel_values=patches,
                             image_grid_thw=grid, output_hidden_states=True)
        positions, _ = model.model.model.get_rope_index(input_ids, grid, attention_mask=mask)
    torch.testing.assert_close(ours, native.hidden_states[-1])
    # Row 1 holds 2 images of 4x4 merged tokens after its 'system/user' header: their height
    # and width positions follow the grid, the temporal one stays.
    row = input_ids[1]
    first = int((row == model.image_token_id).nonzero()[0])
    image = positions[:, 1, first:first + TOKENS_PER_IMAGE] - positions[0, 1, first]
    assert image[0].tolist() == [0] * 16
    assert image[1].tolist() == [r for r in range(4) for _ in range(4)]
    assert image[2].tolist() == [c for _ in range(4) for c in range(4)]
    # The shorter, right-padded row gets the positions it gets alone.
    length = int(mask[0].sum())
    alone, _ = model.model.model.get_rope_index(input_ids[:1, :length], grid[:2])
    assert torch.equal(positions[:, 0, :length], alone[:, 0])


@pytest.mark.parametrize('padding', ['right', 'left'])
def test_role_rows_equal_eager_attention(tokenizer, padding):
    ours = build(tokenizer, attn_implementation='reviosa_sdpa').eval()
    reference = build(tokenizer, attn_implementation='eager').eval()
    reference.load_state_dict(ours.state_dict())
    input_ids, mask, _, pixels = make_batch(tokenizer, ['a', 'the red ball pushing the box'],
                                            left=padding == 'left')
    role = tokenizer.convert_tokens_to_ids('[SEG_ACT]')
    role_positions = torch.stack([(r == role).nonzero()[0] for r in input_ids])
    role_positions = torch.cat([role_positions, role_positions - 3], 1)  # (B, 2)
    layers = [1, 2]
    with torch.no_grad():
        with RoleAttentionCapture(layers, role_positions, model=ours.language_model) as capture:
            hidden = ours(input_ids, mask, pixels).hidden_states
        eager = reference.model.model(input_ids=input_ids, attention_mask=mask,
                                      output_attentions=True,
                                      **reference.image_inputs(pixels))
    expected = eager_rows(eager.attentions, layers, role_positions)
    torch.testing.assert_close(capture.attention, expected, atol=1e-6, rtol=1e-5)
    valid = mask.bool()
    torch.testing.assert_close(hidden[valid], eager.last_hidden_state[valid], atol=1e-5,
                               rtol=1e-5)


def test_generate_right_padded_batch_matches_single(tokenizer):
    model = build(tokenizer).eval()
    input_ids, mask, _, pixels = make_batch(tokenizer, ['a', 'the red ball pushing'], answer='')
    # Prompts only: drop the '<|im_end|>' reply.
    lengths = mask.sum(1) - 1
    mask = mask.clone()
    for b, length in enumerate(lengths):
        mask[b, length:] = 0
    batch = model.generate(input_ids, mask, pixels, max_new_tokens=4)
    for b in range(2):
        single = model.generate(input_ids[b:b + 1, :lengths[b]], None,
                                pixels[2 * b:2 * b + 2], max_new_tokens=4)
        assert batch[b, :single.shape[1]].tolist() == single[0].tolist()


def test_checks_name_the_image_layout(tokenizer):
    model = build(tokenizer)
    input_ids, mask, _, pixels = make_batch(tokenizer, ['a'])
    with pytest.raises(ValueError, match='32 image tokens .* 1 images x 16 tokens'):
        model(input_ids, mask, pixels[:1])
    with pytest.raises(ValueError, match=r'pixel_values must be \(N_img, 3, 64, 64\)'):
        model(input_ids, mask, pixels[:, :, :56, :56])
    start = tokenizer.convert_tokens_to_ids('<|vision_start|>')
    no_start = input_ids.masked_fill(input_ids == start, tokenizer.pad_token_id)
    with pytest.raises(ValueError, match='image starts'):
        model(no_start, mask, pixels)


def test_bfloat16_keeps_trained_modules_in_float32(tokenizer):
    model = build(tokenizer, lora=LORA, torch_dtype='bfloat16')
    assert all(p.dtype == torch.float32 for n, p in model.named_parameters()
               if p.requires_grad), 'trained parameters must stay float32'
    assert model.vision_model.blocks[0].attn.qkv.weight.dtype == torch.bfloat16
    assert model.projector.mlp[0].weight.dtype == torch.float32
    input_ids, mask, labels, pixels = make_batch(tokenizer, ['a'])
    out = model(input_ids, mask, pixels, labels)
    assert torch.isfinite(out.loss)


def test_trained_only_state_dict_and_merge_lora(tokenizer):
    model = build(tokenizer, lora=LORA, save_trained_only=True)
    state = model.state_dict()
    assert set(state) - {'special_token_ids'} <= set(model.trained_parameter_names()) | {
        n for n, _ in model.named_buffers()}
    input_ids, mask, _, pixels = make_batch(tokenizer, ['a'])
    with torch.no_grad():
        before = model.eval()(input_ids, mask, pixels).hidden_states
        merged = model.merge_lora()
        after = model(input_ids, mask, pixels).hidden_states
    assert type(merged).__name__ == 'Qwen2_5_VLForConditionalGeneration'
    torch.testing.assert_close(before, after, atol=1e-5, rtol=1e-5)


# ----------------------------------------------------------------------------- real scale
def published_qwen2_5_vl_3b_parameters() -> int:
    """Parameters of Qwen2.5-VL-3B-Instruct from the fields of its published config.json.

    Vision: depth 32, hidden 1280, intermediate 3420, patch 14, temporal patch 2, merge 2,
    out_hidden 2048 (RMSNorms, biased qkv / proj / SwiGLU MLP, bias-free Conv3d patch embed,
    merger RMSNorm + MLP 5120 -> 5120 -> 2048). LLM: hidden 2048, 36 layers, intermediate
    11008, 16 heads / 2 kv heads of 128, vocab 151936, tie_word_embeddings true.
    """
    v, vi, depth = 1280, 3420, 32
    block = 2 * v + (v * 3 * v + 3 * v) + (v * v + v) + 3 * v * vi + 2 * vi + v
    merged = 4 * v
    vision = 3 * 2 * 14 * 14 * v + depth * block + v + (merged * merged + merged) + (
        merged * 2048 + 2048)
    h, kv, inter, vocab = 2048, 2 * 128, 11008, 151936
    layer = (h * h + h) + 2 * (h * kv + kv) + h * h + 3 * h * inter + 2 * h
    llm = vocab * h + 36 * layer + h  # lm_head tied to the embeddings
    return vision + llm


def test_config_builds_the_published_3b_on_meta():
    from mmengine.config import Config
    assert published_qwen2_5_vl_3b_parameters() == 3_754_622_976
    cfg = Config.fromfile(CONFIG)
    mllm = copy.deepcopy(cfg.model.mllm)
    assert mllm.type == 'QwenVLMLLM' and mllm.pretrained == 'pretrained/Qwen2.5-VL-3B-Instruct'
    for key in ('type', 'pretrained', 'tokenizer'):
        mllm.pop(key)
    with torch.device('meta'):
        model = QwenVLMLLM(config=dict(preset=cfg.mllm_preset), **mllm)
    assert model.num_parameters() == published_qwen2_5_vl_3b_parameters()
    assert model.num_image_tokens == 256 == cfg.num_image_tokens
    assert model.model.config.text_config.num_hidden_layers == 36
    assert cfg.model.aml_layers == [33, 34, 35]
    assert cfg.model.data_preprocessor.mllm_mean == pytest.approx([m * 255 for m in CLIP_MEAN])
    assert cfg.model.data_preprocessor.mllm_std == pytest.approx([s * 255 for s in CLIP_STD])
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        steps = {s['type']: s for s in cfg[loader].dataset.pipeline}
        assert steps['TokenizeConversation']['chat_format'] == 'qwen2_5_vl'


# ----------------------------------------------------------------------------- in ReVIOSa
TINY_CONFIG = osp.join(osp.dirname(CONFIG), 'reviosa_tiny_intershapes.py')


def tiny_qwen_reviosa_cfg():
    """The tiny InterShapes config with the tiny Qwen2.5-VL as its MLLM (LoRA, frozen ViT)."""
    from mmengine.config import Config
    cfg = Config.fromfile(TINY_CONFIG)
    tokenizer = dict(type='build_role_tokenizer', tokenizer=dict(type='build_tiny_tokenizer'),
                     extra_tokens=list(QWEN_VL_IMAGE_TOKENS))
    cfg.model.mllm = dict(type='QwenVLMLLM', tokenizer=tokenizer, config=copy.deepcopy(TINY),
                          image_size=IMAGE_SIZE, lora=dict(type='LoraConfig', **LORA),
                          freeze_vision_encoder=True, attn_implementation='reviosa_sdpa')
    for pipeline in (cfg.train_pipeline, cfg.test_pipeline):
        for step in pipeline:
            if step['type'] == 'TokenizeConversation':
                step.update(tokenizer=tokenizer, chat_format='qwen2_5_vl',
                            num_image_tokens=TOKENS_PER_IMAGE)
    return cfg


def test_tiny_qwen_reviosa_trains_and_predicts(split_root):
    from mmengine.registry import init_default_scope

    from mmreviosa.registry import MODELS
    from mmreviosa.testing.tiny import intershapes_batch
    init_default_scope('mmreviosa')
    cfg = tiny_qwen_reviosa_cfg()
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    assert isinstance(model.mllm, QwenVLMLLM)
    batch = intershapes_batch(cfg, split_root)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model.train()
    for step in range(3):
        losses = model(**model.data_preprocessor(copy.deepcopy(batch), True), mode='loss')
        assert {'loss_actor_mask', 'loss_target_mask', 'loss_lm', 'loss_aml'} <= set(losses)
        assert all(torch.isfinite(v) for v in losses.values())
        optimizer.zero_grad()
        sum(losses.values()).backward()
        if step == 0:
            grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
            for part in ('lora_B', 'trainable_tokens_delta', 'visual.merger', 'projector.'):
                assert any(g is not None and g.abs().sum() > 0
                           for n, g in grads.items() if part in n), part
            assert all(p.grad is None for n, p in model.named_parameters()
                       if 'visual.blocks' in n)
        optimizer.step()

    model.eval()
    test_batch = intershapes_batch(cfg, split_root, train=False)
    shapes = [tuple(s.ori_shape) for s in test_batch['data_samples']]
    frames = [len(s.frame_names) for s in test_batch['data_samples']]
    model.test_cfg['force_answer'] = 'Sure, it is [SEG_ACT] and [SEG_TAR].<|im_end|>'
    out = model(**model.data_preprocessor(copy.deepcopy(test_batch), False), mode='predict')
    for sample, shape, t in zip(out, shapes, frames):
        assert sample.pred_actor_masks.shape == sample.pred_target_masks.shape == (t, *shape)
    model.test_cfg['force_answer'] = None  # generation: masks follow the generated role tokens
    out = model(**model.data_preprocessor(copy.deepcopy(test_batch), False), mode='predict')
    for sample, shape, t in zip(out, shapes, frames):
        assert (sample.pred_target_masks is not None) == ('[SEG_TAR]' in sample.pred_text)
