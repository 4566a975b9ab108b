"""Convert a published InternVL-2.5 checkpoint to transformers' native InternVL layout.

The published folders (OpenGVLab/InternVL2_5-1B, -4B, and other Qwen2-based
InternVL-2.5 / 3 models) use remote code (``InternVLChatModel``). ReVIOSa loads
the native ``InternVLForConditionalGeneration`` instead::

    python tools/model_converters/internvl2_5_to_hf.py SRC DST [--dtype bfloat16]

``SRC`` holds ``config.json`` (``model_type: internvl_chat``), the tokenizer files
and the weights (safetensors shards, or ``pytorch_model*.bin``). ``DST`` gets a
native ``config.json``, one output shard per input shard (read and written one
at a time, so peak memory is about one shard), the index and the tokenizer
(with ``<img>``, ``</img>``, ``<IMG_CONTEXT>`` added if they were missing).

Weight names::

    vision_model.embeddings.class_embedding      -> model.vision_tower.embeddings.cls_token
    vision_model.embeddings.position_embedding   -> ...embeddings.position_embeddings
    vision_model.embeddings.patch_embedding.*    -> ...embeddings.patch_embeddings.projection.*
    vision_model.encoder.layers.N.attn.qkv.*     -> ...encoder.layer.N.attention.{q,k,v}_proj.*
    vision_model.encoder.layers.N.attn.proj.*    -> ...attention.projection_layer.*
    vision_model.encoder.layers.N.ls1 / ls2      -> ...lambda_1 / lambda_2
    vision_model.encoder.layers.N.norm1 / norm2  -> ...layernorm_before / layernorm_after
    mlp1.0 / mlp1.1 / mlp1.3                     -> model.multi_modal_projector.
                                                    {layer_norm, linear_1, linear_2}
    language_model.model.*                       -> model.language_model.*
    language_model.lm_head.weight                -> lm_head.weight
"""
import argparse
import json
import os
import os.path as osp
import re
import shutil
import warnings
from typing import Dict, Iterator, List, Optional, Tuple

import torch

IMAGE_TOKENS = ('<img>', '</img>', '<IMG_CONTEXT>')
TOKENIZER_FILES = ('tokenizer.json', 'tokenizer_config.json', 'vocab.json', 'merges.txt',
                   'special_tokens_map.json', 'added_tokens.json', 'tokenizer.model',
                   'chat_template.json', 'chat_template.jinja', 'generation_config.json')

_VISION_LAYER = r'vision_model\.encoder\.layers\.(\d+)\.'
_NATIVE_LAYER = r'model.vision_tower.encoder.layer.\1.'
# (full-match pattern of a remote-code key, native key template)
KEY_RULES: List[Tuple[re.Pattern, str]] = [(re.compile(p), r) for p, r in [
    (r'vision_model\.embeddings\.class_embedding', 'model.vision_tower.embeddings.cls_token'),
    (r'vision_model\.embeddings\.position_embedding',
     'model.vision_tower.embeddings.position_embeddings'),
    (r'vision_model\.embeddings\.patch_embedding\.(weight|bias)',
     r'model.vision_tower.embeddings.patch_embeddings.projection.\1'),
    (_VISION_LAYER + r'attn\.proj\.(weight|bias)',
     _NATIVE_LAYER + r'attention.projection_layer.\2'),
    (_VISION_LAYER + r'attn\.(q_norm|k_norm)\.weight', _NATIVE_LAYER + r'attention.\2.weight'),
    (_VISION_LAYER + r'ls([12])', _NATIVE_LAYER + r'lambda_\2'),
    (_VISION_LAYER + r'norm1\.(weight|bias)', _NATIVE_LAYER + r'layernorm_before.\2'),
    (_VISION_LAYER + r'norm2\.(weight|bias)', _NATIVE_LAYER + r'layernorm_after.\2'),
    (_VISION_LAYER + r'mlp\.(fc1|fc2)\.(weight|bias)', _NATIVE_LAYER + r'mlp.\2.\3'),
    (r'mlp1\.0\.(weight|bias)', r'model.multi_modal_projector.layer_norm.\1'),
    (r'mlp1\.1\.(weight|bias)', r'model.multi_modal_projector.linear_1.\1'),
    (r'mlp1\.3\.(weight|bias)', r'model.multi_modal_projector.linear_2.\1'),
    (r'language_model\.model\.(.+)', r'model.language_model.\1'),
    (r'language_model\.lm_head\.weight', 'lm_head.weight'),
]]
QKV_RULE = re.compile(_VISION_LAYER + r'attn\.qkv\.(weight|bias)')


def convert_tensor(key: str, tensor: torch.Tensor) -> List[Tuple[str, torch.Tensor]]:
    """Native (name, tensor) pairs for one remote-code tensor.

    The fused ``attn.qkv`` of InternViT (rows ordered q, k, v) becomes three
    projections; every other tensor keeps its value under a new name.
    """
    match = QKV_RULE.fullmatch(key)
    if match:
        layer, kind = match.groups()
        prefix = f'model.vision_tower.encoder.layer.{layer}.attention'
        query, key_, value = tensor.chunk(3, dim=0)
        return [(f'{prefix}.q_proj.{kind}', query), (f'{prefix}.k_proj.{kind}', key_),
                (f'{prefix}.v_proj.{kind}', value)]
    for pattern, template in KEY_RULES:
        match = pattern.fullmatch(key)
        if match:
            return [(match.expand(template), tensor)]
    raise KeyError(f'No native name for the weight {key!r}: is this an InternVL checkpoint with '
                   f'a Qwen2 language model?')


_QWEN2_KEYS = ('vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers',
               'num_attention_heads', 'num_key_value_heads', 'hidden_act',
               'max_position_embeddings', 'initializer_range', 'rms_norm_eps', 'rope_theta',
               'rope_scaling', 'use_sliding_window', 'sliding_window', 'max_window_layers',
               'layer_types', 'attention_dropout', 'bos_token_id', 'eos_token_id', 'pad_token_id')


def convert_config(source: dict, image_token_id: int):
    """The native ``InternVLConfig`` of a remote-code ``config.json`` dict.

    Raises:
        NotImplementedError: for what the native model cannot reproduce
            (non-Qwen2 LLMs, ``select_layer`` other than -1, ``ps_version`` v1).
    """
    from transformers import InternVLConfig, InternVLVisionConfig, Qwen2Config
    if source.get('model_type') != 'internvl_chat':
        raise ValueError(f'config.json model_type is {source.get("model_type")!r}, expected '
                         f'"internvl_chat" (the remote-code layout)')
    llm = source['llm_config']
    if llm.get('model_type') != 'qwen2':
        raise NotImplementedError(f'Only Qwen2 language models are converted, got '
                                  f'{llm.get("model_type")!r} {llm.get("architectures")}')
    if source.get('select_layer', -1) != -1:
        raise NotImplementedError(f'select_layer={source["select_layer"]}: transformers '
                                  f'InternVL uses the last vision layer only')
    if source.get('ps_version', 'v2') != 'v2':
        raise NotImplementedError(f'ps_version={source["ps_version"]}: only the v2 pixel '
                                  f'shuffle matches transformers InternVL')
    vision = source['vision_config']
    image_size = source.get('force_image_size') or vision['image_size']
    patch_size = vision['patch_size']
    vision_config = InternVLVisionConfig(
        hidden_size=vision['hidden_size'], num_hidden_layers=vision['num_hidden_layers'],
        num_attention_heads=vision['num_attention_heads'],
        intermediate_size=vision['intermediate_size'],
        attention_bias=vision.get('qkv_bias', True),
        use_qk_norm=vision.get('qk_normalization', False),
        norm_type=vision.get('norm_type', 'layer_norm'),
        layer_norm_eps=vision.get('layer_norm_eps', 1e-6),
        image_size=[image_size, image_size], patch_size=[patch_size, patch_size],
        hidden_act=vision.get('hidden_act', 'gelu'),
        attention_dropout=vision.get('attention_dropout', 0.0),
        hidden_dropout_prob=vision.get('dropout', 0.0),
        num_channels=vision.get('num_channels', 3),
        layer_scale_init_value=vision.get('initializer_factor', 0.1),
        use_mean_pooling=True)  # InternViT has no final norm: the native one is Identity then
    tie = source.get('tie_word_embeddings', llm.get('tie_word_embeddings', False))
    text_config = Qwen2Config(**{k: llm[k] for k in _QWEN2_KEYS if k in llm},
                              tie_word_embeddings=tie, use_cache=True)
    downsample_ratio = source.get('downsample_ratio', 0.5)
    grid = image_size // patch_size
    return InternVLConfig(
        vision_config=vision_config, text_config=text_config, image_token_id=image_token_id,
        image_seq_length=round(grid * grid * downsample_ratio ** 2),
        downsample_ratio=downsample_ratio, vision_feature_layer=-1,
        projector_hidden_act='gelu', tie_word_embeddings=tie,
        architectures=['InternVLForConditionalGeneration'])


def convert_tokenizer(src: str, dst: str) -> int:
    """Copy the tokenizer files, add the image tokens if missing; return the IMG_CONTEXT id."""
    from transformers import AutoTokenizer
    for name in TOKENIZER_FILES:
        if osp.isfile(osp.join(src, name)):
            shutil.copy2(osp.join(src, name), osp.join(dst, name))
    tokenizer = AutoTokenizer.from_pretrained(dst, trust_remote_code=False, local_files_only=True)
    missing = [t for t in IMAGE_TOKENS if t not in tokenizer.get_vocab()]
    if missing:
        warnings.warn(f'{src}: the tokenizer lacks {missing}; adding them')
        tokenizer.add_tokens(missing, special_tokens=True)
        tokenizer.save_pretrained(dst)
    return tokenizer.convert_tokens_to_ids('<IMG_CONTEXT>')


def _source_shards(src: str) -> List[str]:
    for index_name, single in (('model.safetensors.index.json', 'model.safetensors'),
                               ('pytorch_model.bin.index.json', 'pytorch_model.bin')):
        if osp.isfile(osp.join(src, index_name)):
            with open(osp.join(src, index_name)) as f:
                return sorted(set(json.load(f)['weight_map'].values()))
        if osp.isfile(osp.join(src, single)):
            return [single]
    raise FileNotFoundError(f'{src}: no model.safetensors[.index.json] or pytorch_model.bin')


def _iter_tensors(path: str) -> Iterator[Tuple[str, torch.Tensor]]:
    if path.endswith('.safetensors'):
        from safetensors import safe_open
        with safe_open(path, framework='pt') as f:
            for key in f.keys():
                yield key, f.get_tensor(key)
    else:
        yield from torch.load(path, map_location='cpu', mmap=True, weights_only=True).items()


def _check_keys(config, written: Dict[str, str]) -> None:
    """Compare the written names with those of the native model (built on the meta device)."""
    from transformers import InternVLForConditionalGeneration
    with torch.device('meta'):
        model = InternVLForConditionalGeneration(config)
    expected = set(model.state_dict())
    if config.text_config.tie_word_embeddings:
        expected.discard('lm_head.weight')
    missing, unexpected = expected - set(written), set(written) - expected
    if missing or unexpected:
        raise RuntimeError(f'Converted weights do not match the native model: missing '
                           f'{sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}')


def convert_checkpoint(src: str, dst: str, dtype: Optional[str] = None) -> None:
    """Convert the remote-code folder ``src`` into the native folder ``dst``.

    Args:
        src: folder of the published checkpoint.
        dst: output folder (created).
        dtype: cast the weights ('float32', 'bfloat16', 'float16'); None keeps them.
    """
    from safetensors.torch import save_file

    from mmreviosa.utils import check_local_pretrained
    # Local only: SRC is the downloaded folder, never a hub name to fetch.
    check_local_pretrained(osp.join(src, 'config.json'), 'InternVL-2.5 source checkpoint (SRC)',
                           'download the published OpenGVLab/InternVL2_5-* folder first')
    os.makedirs(dst, exist_ok=True)
    with open(osp.join(src, 'config.json')) as f:
        source_config = json.load(f)
    image_token_id = convert_tokenizer(src, dst)
    config = convert_config(source_config, image_token_id)
    if image_token_id >= config.text_config.vocab_size:
        warnings.warn(f'<IMG_CONTEXT> id {image_token_id} is beyond the '
                      f'{config.text_config.vocab_size} embedding rows: resize the embeddings '
                      f'before use (InternVLMLLM does)')
    cast = getattr(torch, dtype) if dtype else None
    shards = _source_shards(src)
    weight_map, total_size = {}, 0
    for i, shard in enumerate(shards):
        out_name = ('model.safetensors' if len(shards) == 1
                    else f'model-{i + 1:05d}-of-{len(shards):05d}.safetensors')
        converted = {}
        for key, tensor in _iter_tensors(osp.join(src, shard)):
            for new_key, new_tensor in convert_tensor(key, tensor):
                new_tensor = new_tensor.to(cast) if cast is not None else new_tensor
                # clone: the q/k/v slices share storage, which safetensors refuses.
                converted[new_key] = new_tensor.contiguous().clone()
                weight_map[new_key] = out_name
                total_size += new_tensor.numel() * new_tensor.element_size()
        save_file(converted, osp.join(dst, out_name), metadata={'format': 'pt'})
        del converted
    _check_keys(config, weight_map)
    if len(shards) > 1:
        with open(osp.join(dst, 'model.safetensors.index.json'), 'w') as f:
            json.dump({'metadata': {'total_size': total_size}, 'weight_map': weight_map}, f,
                      indent=2, sort_keys=True)
    config.dtype = dtype or source_config.get('torch_dtype', 'float32')
    config.save_pretrained(dst)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='folder of the remote-code InternVL checkpoint')
    parser.add_argument('dst', help='output folder (native transformers layout)')
    parser.add_argument('--dtype', choices=['float32', 'bfloat16', 'float16'], default=None,
                        help='cast the weights (default: keep their dtype)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    convert_checkpoint(args.src, args.dst, args.dtype)
    print(f'Converted {args.src} -> {args.dst}')


if __name__ == '__main__':
    main()
