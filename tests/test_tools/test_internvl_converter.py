"""Tests of tools/model_converters/internvl2_5_to_hf.py on a tiny checkpoint."""
import copy
import json
import os.path as osp

import pytest
import torch

from mmreviosa.testing import REPO_ROOT, load_tool
from mmreviosa.text import build_role_tokenizer, build_tiny_tokenizer

torch.set_num_threads(1)

TOOL = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'model_converters',
                'internvl2_5_to_hf.py')


@pytest.fixture(scope='module')
def converter():
    return load_tool(osp.relpath(TOOL, REPO_ROOT))


@pytest.fixture(scope='module')
def base_tokenizer():
    return build_tiny_tokenizer()


def tiny_native_model(vocab_size, image_token_id, norm_type, qk_norm, qkv_bias):
    """A tiny native InternVL with every weight random (no constant init to hide mix-ups)."""
    from transformers import (InternVLConfig, InternVLForConditionalGeneration,
                              InternVLVisionConfig, Qwen2Config)
    config = InternVLConfig(
        vision_config=InternVLVisionConfig(
            hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
            image_size=[64, 64], patch_size=[8, 8], norm_type=norm_type, use_qk_norm=qk_norm,
            attention_bias=qkv_bias),
        text_config=Qwen2Config(
            hidden_size=128, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
            intermediate_size=256, vocab_size=vocab_size, rope_theta=1e6,
            max_position_embeddings=512, tie_word_embeddings=False),
        image_token_id=image_token_id, downsample_ratio=0.5, tie_word_embeddings=False)
    torch.manual_seed(0)
    model = InternVLForConditionalGeneration(config).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0, 0.05)
    return model


def to_remote_layout(native, num_vision_layers):
    """Names and fused tensors of the remote-code InternVLChatModel, from a native state dict."""
    native = dict(native)
    remote = {}

    def take(src, dst):
        if src in native:
            remote[dst] = native.pop(src)

    vision = 'model.vision_tower.'
    take(vision + 'embeddings.cls_token', 'vision_model.embeddings.class_embedding')
    take(vision + 'embeddings.position_embeddings', 'vision_model.embeddings.position_embedding')
    for kind in ('weight', 'bias'):
        take(vision + f'embeddings.patch_embeddings.projection.{kind}',
             f'vision_model.embeddings.patch_embedding.{kind}')
    for i in range(num_vision_layers):
        src, dst = f'{vision}encoder.layer.{i}.', f'vision_model.encoder.layers.{i}.'
        for kind in ('weight', 'bias'):
            parts = [src + f'attention.{p}_proj.{kind}' for p in 'qkv']
            if parts[0] in native:  # InternViT fuses q, k, v in one linear layer
                remote[dst + f'attn.qkv.{kind}'] = torch.cat([native.pop(p) for p in parts])
            take(src + f'attention.projection_layer.{kind}', dst + f'attn.proj.{kind}')
            take(src + f'layernorm_before.{kind}', dst + f'norm1.{kind}')
            take(src + f'layernorm_after.{kind}', dst + f'norm2.{kind}')
            take(src + f'mlp.fc1.{kind}', dst + f'mlp.fc1.{kind}')
            take(src + f'mlp.fc2.{kind}', dst + f'mlp.fc2.{kind}')
        take(src + 'attention.q_norm.weight', dst + 'attn.q_norm.weight')
        take(src + 'attention.k_norm.weight', dst + 'attn.k_norm.weight')
        take(src + 'lambda_1', dst + 'ls1')
        take(src + 'lambda_2', dst + 'ls2')
    for index, name in ((0, 'layer_norm'), (1, 'linear_1'), (3, 'linear_2')):
        for kind in ('weight', 'bias'):
            take(f'model.multi_modal_projector.{name}.{kind}', f'mlp1.{index}.{kind}')
    for key in [k for k in native if k.startswith('model.language_model.')]:
        take(key, 'language_model.model.' + key[len('model.language_model.'):])
    take('lm_head.weight', 'language_model.lm_head.weight')
    assert not native, f'inverse mapping misses {list(native)}'
    return remote


def remote_config(vocab_size, norm_type, qk_norm, qkv_bias):
    return dict(
        architectures=['InternVLChatModel'], model_type='internvl_chat', template='internvl2_5',
        downsample_ratio=0.5, select_layer=-1, ps_version='v2', force_image_size=64,
        dynamic_image_size=True, use_thumbnail=True, tie_word_embeddings=False,
        torch_dtype='float32',
        vision_config=dict(
            architectures=['InternVisionModel'], model_type='intern_vit_6b', hidden_size=64,
            num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, image_size=64,
            patch_size=8, qkv_bias=qkv_bias, qk_normalization=qk_norm, norm_type=norm_type,
            layer_norm_eps=1e-6, hidden_act='gelu', drop_path_rate=0.0, dropout=0.0,
            attention_dropout=0.0, initializer_factor=0.1, use_flash_attn=False),
        llm_config=dict(
            _name_or_path='Qwen2.5-tiny', architectures=['Qwen2ForCausalLM'], model_type='qwen2',
            hidden_size=128, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
            intermediate_size=256, vocab_size=vocab_size, rms_norm_eps=1e-6, rope_theta=1e6,
            max_position_embeddings=512, hidden_act='silu', use_bfloat16=False))


def write_remote_checkpoint(folder, tokenizer, model, config, num_shards):
    from safetensors.torch import save_file
    remote = to_remote_layout(model.state_dict(), 2)
    names = sorted(remote)
    weight_map = {}
    for shard in range(num_shards):
        file = (f'model-{shard + 1:05d}-of-{num_shards:05d}.safetensors' if num_shards > 1
                else 'model.safetensors')
        chunk = {k: remote[k].contiguous() for k in names[shard::num_shards]}
        save_file(chunk, osp.join(folder, file), metadata={'format': 'pt'})
        weight_map.update({k: file for k in chunk})
    if num_shards > 1:
        with open(osp.join(folder, 'model.safetensors.index.json'), 'w') as f:
            json.dump({'metadata': {}, 'weight_map': weight_map}, f)
    with open(osp.join(folder, 'config.json'), 'w') as f:
        json.dump(config, f)
    tokenizer.save_pretrained(folder)


@pytest.mark.parametrize('norm_type,qk_norm,qkv_bias', [('layer_norm', False, True),
                                                        ('rms_norm', True, False)])
def test_convert_matches_source_model(converter, base_tokenizer, tmp_path, norm_type, qk_norm,
                                      qkv_bias):
    from transformers import AutoTokenizer, InternVLForConditionalGeneration
    tokenizer = build_role_tokenizer(copy.deepcopy(base_tokenizer), role_tokens=())
    image_token_id = tokenizer.convert_tokens_to_ids('<IMG_CONTEXT>')
    source = tiny_native_model(len(tokenizer), image_token_id, norm_type, qk_norm, qkv_bias)
    src, dst = tmp_path / 'remote', tmp_path / 'native'
    src.mkdir()
    write_remote_checkpoint(str(src), tokenizer,
                            source, remote_config(len(tokenizer), norm_type, qk_norm, qkv_bias),
                            num_shards=2)

    converter.main([str(src), str(dst)])

    assert osp.isfile(dst / 'model.safetensors.index.json')
    converted = InternVLForConditionalGeneration.from_pretrained(str(dst)).eval()
    assert converted.config.image_token_id == image_token_id
    assert converted.config.vision_config.use_qk_norm == qk_norm
    source_state, converted_state = source.state_dict(), converted.state_dict()
    assert source_state.keys() == converted_state.keys()
    for key, value in source_state.items():
        assert torch.equal(converted_state[key], value), key
    assert AutoTokenizer.from_pretrained(str(dst)).get_vocab() == tokenizer.get_vocab()

    torch.manual_seed(0)
    input_ids = torch.randint(0, 500, (1, 30))
    input_ids[0, 5:5 + 16] = image_token_id
    inputs = dict(input_ids=input_ids, pixel_values=torch.randn(1, 3, 64, 64))
    with torch.no_grad():
        assert torch.equal(converted(**inputs).logits, source(**inputs).logits)


def test_convert_adds_missing_image_tokens(converter, base_tokenizer, tmp_path):
    from transformers import AutoTokenizer
    tokenizer = copy.deepcopy(base_tokenizer)
    source = tiny_native_model(len(tokenizer), 0, 'layer_norm', False, True)
    src, dst = tmp_path / 'remote', tmp_path / 'native'
    src.mkdir()
    write_remote_checkpoint(str(src), tokenizer, source,
                            remote_config(len(tokenizer), 'layer_norm', False, True), 1)
    with pytest.warns(UserWarning, match='lacks'), pytest.warns(UserWarning, match='beyond'):
        converter.convert_checkpoint(str(src), str(dst), dtype='bfloat16')
    vocab = AutoTokenizer.from_pretrained(str(dst)).get_vocab()
    assert [vocab[t] for t in ('<img>', '</img>', '<IMG_CONTEXT>')] == [
        len(tokenizer), len(tokenizer) + 1, len(tokenizer) + 2]
    with open(dst / 'config.json') as f:
        config = json.load(f)
    assert config['image_token_id'] == len(tokenizer) + 2
    from safetensors import safe_open
    with safe_open(str(dst / 'model.safetensors'), framework='pt') as f:
        assert f.get_tensor('lm_head.weight').dtype == torch.bfloat16


def test_unsupported_checkpoints_are_refused(converter):
    config = remote_config(100, 'layer_norm', False, True)
    with pytest.raises(NotImplementedError, match='Qwen2'):
        converter.convert_config(dict(config, llm_config=dict(model_type='internlm2')), 5)
    with pytest.raises(NotImplementedError, match='select_layer'):
        converter.convert_config(dict(config, select_layer=-4), 5)
    with pytest.raises(KeyError, match='attn.fused'):
        converter.convert_tensor('vision_model.encoder.layers.0.attn.fused.weight', torch.zeros(1))
