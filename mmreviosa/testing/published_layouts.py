"""Random weights written in the layouts of the published checkpoints.

Real-scale code paths (the InternVL-2.5 converter, the 1B / 4B configs, SAM2.1
loading) must be exercised without the published files, which nothing here may
download. These writers produce files that look like the published ones: the
InternVL-2.5 remote-code folder (``config.json`` with the published fields,
``model.safetensors`` with the published key names and shapes in bf16, a
Qwen2.5-style tokenizer with the published special-token ids) and the SAM2.1
checkpoint (``{"model": state_dict}`` of sam2's own ``SAM2Base``). They are
written from the published config fields and key names, not from our
converter's rules, so a converter bug cannot hide behind a matching writer.
Depth can be reduced; widths, vocabulary and ids stay the published ones.
"""
import copy
import json
import os
import os.path as osp
from typing import Dict, Optional

import torch

__all__ = ['INTERNVL2_5_CONFIGS', 'QWEN2_5_SPECIAL_TOKENS', 'INTERNVL_ADDED_TOKENS',
           'write_qwen2_5_tokenizer', 'write_internvl2_5_remote_checkpoint',
           'write_sam2_checkpoint']

_INTERNVIT_300M = dict(
    architectures=['InternVisionModel'], attention_dropout=0.0, drop_path_rate=0.0, dropout=0.0,
    hidden_act='gelu', hidden_size=1024, image_size=448, initializer_factor=0.1,
    initializer_range=1e-10, intermediate_size=4096, layer_norm_eps=1e-6,
    model_type='intern_vit_6b', norm_type='layer_norm', num_attention_heads=16, num_channels=3,
    num_hidden_layers=24, patch_size=14, qk_normalization=False, qkv_bias=True,
    torch_dtype='bfloat16', use_flash_attn=True)


def _qwen2_5(hidden, intermediate, heads, layers):
    return dict(
        architectures=['Qwen2ForCausalLM'], attention_dropout=0.0, bos_token_id=151643,
        eos_token_id=151645, hidden_act='silu', hidden_size=hidden, initializer_range=0.02,
        intermediate_size=intermediate, max_position_embeddings=32768, max_window_layers=70,
        model_type='qwen2', num_attention_heads=heads, num_hidden_layers=layers,
        num_key_value_heads=2, rms_norm_eps=1e-6, rope_theta=1000000.0, sliding_window=32768,
        tie_word_embeddings=False, torch_dtype='bfloat16', use_cache=True,
        use_sliding_window=False, vocab_size=151674)


def _internvl_chat(llm_config):
    return dict(
        architectures=['InternVLChatModel'], downsample_ratio=0.5, dynamic_image_size=True,
        force_image_size=448, llm_config=llm_config, max_dynamic_patch=12, min_dynamic_patch=1,
        model_type='internvl_chat', ps_version='v2', select_layer=-1, template='internvl2_5',
        torch_dtype='bfloat16', use_backbone_lora=0, use_llm_lora=0, use_thumbnail=True,
        vision_config=copy.deepcopy(_INTERNVIT_300M))


#: ``config.json`` of OpenGVLab/InternVL2_5-1B and -4B (InternViT-300M + Qwen2.5-0.5B / 3B).
INTERNVL2_5_CONFIGS: Dict[str, dict] = {
    '1b': _internvl_chat(_qwen2_5(896, 4864, 14, 24)),
    '4b': _internvl_chat(_qwen2_5(2048, 11008, 16, 36)),
}
#: Qwen2.5's special tokens, ids 151643 onwards.
QWEN2_5_SPECIAL_TOKENS = (
    '<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|object_ref_start|>', '<|object_ref_end|>',
    '<|box_start|>', '<|box_end|>', '<|quad_start|>', '<|quad_end|>', '<|vision_start|>',
    '<|vision_end|>', '<|vision_pad|>', '<|image_pad|>', '<|video_pad|>', '<tool_call>',
    '</tool_call>', '<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>', '<|fim_pad|>',
    '<|repo_name|>', '<|file_sep|>')
#: Tokens InternVL-2.5 adds after Qwen2.5's (ids 151665-151673).
INTERNVL_ADDED_TOKENS = ('<img>', '</img>', '<IMG_CONTEXT>', '<quad>', '</quad>', '<ref>',
                         '</ref>', '<box>', '</box>')
_NUM_REGULAR_TOKENS = 151643


def _remote_code_shapes(config: dict) -> Dict[str, tuple]:
    """Key -> shape of ``InternVLChatModel.state_dict()`` for a published ``config.json``."""
    vision, llm = config['vision_config'], config['llm_config']
    width, ffn = vision['hidden_size'], vision['intermediate_size']
    grid = config['force_image_size'] // vision['patch_size']
    shapes = {
        'vision_model.embeddings.class_embedding': (1, 1, width),
        'vision_model.embeddings.patch_embedding.weight': (width, 3, vision['patch_size'],
                                                           vision['patch_size']),
        'vision_model.embeddings.patch_embedding.bias': (width, ),
        'vision_model.embeddings.position_embedding': (1, grid * grid + 1, width),
    }
    for i in range(vision['num_hidden_layers']):
        layer = f'vision_model.encoder.layers.{i}.'
        shapes.update({
            layer + 'attn.qkv.weight': (3 * width, width), layer + 'attn.qkv.bias': (3 * width, ),
            layer + 'attn.proj.weight': (width, width), layer + 'attn.proj.bias': (width, ),
            layer + 'ls1': (width, ), layer + 'ls2': (width, ),
            layer + 'norm1.weight': (width, ), layer + 'norm1.bias': (width, ),
            layer + 'norm2.weight': (width, ), layer + 'norm2.bias': (width, ),
            layer + 'mlp.fc1.weight': (ffn, width), layer + 'mlp.fc1.bias': (ffn, ),
            layer + 'mlp.fc2.weight': (width, ffn), layer + 'mlp.fc2.bias': (width, )})
    shuffled = width * int(round(1 / config['downsample_ratio'])) ** 2
    hidden, inner = llm['hidden_size'], llm['intermediate_size']
    kv = hidden // llm['num_attention_heads'] * llm['num_key_value_heads']
    shapes.update({
        'mlp1.0.weight': (shuffled, ), 'mlp1.0.bias': (shuffled, ),
        'mlp1.1.weight': (hidden, shuffled), 'mlp1.1.bias': (hidden, ),
        'mlp1.3.weight': (hidden, hidden), 'mlp1.3.bias': (hidden, ),
        'language_model.model.embed_tokens.weight': (llm['vocab_size'], hidden),
        'language_model.model.norm.weight': (hidden, ),
        'language_model.lm_head.weight': (llm['vocab_size'], hidden)})
    for i in range(llm['num_hidden_layers']):
        layer = f'language_model.model.layers.{i}.'
        shapes.update({
            layer + 'self_attn.q_proj.weight': (hidden, hidden),
            layer + 'self_attn.q_proj.bias': (hidden, ),
            layer + 'self_attn.k_proj.weight': (kv, hidden),
            layer + 'self_attn.k_proj.bias': (kv, ),
            layer + 'self_attn.v_proj.weight': (kv, hidden),
            layer + 'self_attn.v_proj.bias': (kv, ),
            layer + 'self_attn.o_proj.weight': (hidden, hidden),
            layer + 'mlp.gate_proj.weight': (inner, hidden),
            layer + 'mlp.up_proj.weight': (inner, hidden),
            layer + 'mlp.down_proj.weight': (hidden, inner),
            layer + 'input_layernorm.weight': (hidden, ),
            layer + 'post_attention_layernorm.weight': (hidden, )})
    return shapes


def _random_tensor(key: str, shape: tuple, generator: torch.Generator) -> torch.Tensor:
    """Values of the scale trained weights have: norms near 1, layer scales near 0.1."""
    if key.endswith(('norm.weight', 'norm1.weight', 'norm2.weight', 'layernorm.weight',
                     'mlp1.0.weight')):
        return 1 + 0.05 * torch.randn(shape, generator=generator)
    if key.endswith(('.ls1', '.ls2')):
        return 0.1 + 0.01 * torch.randn(shape, generator=generator)
    return 0.02 * torch.randn(shape, generator=generator)


def write_qwen2_5_tokenizer(folder: str) -> None:
    """A byte-level BPE tokenizer with Qwen2.5's file layout and special-token ids.

    The regular vocabulary is a small BPE (bytes and merges learned on English text)
    padded with unused entries up to Qwen2.5's 151643, so the special tokens sit at
    their published ids.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=2000, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    corpus = ['Please segment the actor and, if it interacts with another object, the target in '
              'this video: the red ball pushing the blue box. Sure, it is the one. '
              'the dog running left, the person following the car, approaching, chasing'] * 20
    tokenizer.train_from_iterator(corpus, trainer)
    model = json.loads(tokenizer.to_str())['model']
    vocab = dict(model['vocab'])
    for i in range(len(vocab), _NUM_REGULAR_TOKENS):
        vocab[f'<|unused_{i}|>'] = i
    with open(osp.join(folder, 'vocab.json'), 'w', encoding='utf-8') as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(osp.join(folder, 'merges.txt'), 'w', encoding='utf-8') as f:
        f.write('#version: 0.2\n')
        for merge in model['merges']:
            f.write((merge if isinstance(merge, str) else ' '.join(merge)) + '\n')
    added = {}
    for offset, token in enumerate(QWEN2_5_SPECIAL_TOKENS + INTERNVL_ADDED_TOKENS):
        added[str(_NUM_REGULAR_TOKENS + offset)] = dict(
            content=token, lstrip=False, normalized=False, rstrip=False, single_word=False,
            special=True)
    tokenizer_config = dict(
        added_tokens_decoder=added, bos_token=None, eos_token='<|im_end|>',
        pad_token='<|endoftext|>', model_max_length=8192, tokenizer_class='Qwen2Tokenizer',
        clean_up_tokenization_spaces=False, errors='replace', split_special_tokens=False,
        additional_special_tokens=list(QWEN2_5_SPECIAL_TOKENS[1:3] + INTERNVL_ADDED_TOKENS))
    with open(osp.join(folder, 'tokenizer_config.json'), 'w') as f:
        json.dump(tokenizer_config, f, ensure_ascii=False, indent=2)


def write_internvl2_5_remote_checkpoint(folder: str, size: str = '1b',
                                        llm_layers: Optional[int] = None,
                                        vision_layers: Optional[int] = None,
                                        seed: int = 0) -> dict:
    """Write an InternVL-2.5 folder in the published remote-code layout, random weights.

    Args:
        folder: output folder (created).
        size: '1b' or '4b'.
        llm_layers / vision_layers: fewer layers than published (None: published).
        seed: of the weights.

    Returns:
        The ``config.json`` written.
    """
    config = copy.deepcopy(INTERNVL2_5_CONFIGS[size])
    if llm_layers is not None:
        config['llm_config']['num_hidden_layers'] = llm_layers
    if vision_layers is not None:
        config['vision_config']['num_hidden_layers'] = vision_layers
    os.makedirs(folder, exist_ok=True)
    with open(osp.join(folder, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)
    from safetensors.torch import save_file
    generator = torch.Generator().manual_seed(seed)
    tensors = {key: _random_tensor(key, shape, generator).to(torch.bfloat16)
               for key, shape in _remote_code_shapes(config).items()}
    save_file(tensors, osp.join(folder, 'model.safetensors'), metadata={'format': 'pt'})
    write_qwen2_5_tokenizer(folder)
    return config


def write_sam2_checkpoint(path: str, model_cfg: str = 'configs/sam2.1/sam2.1_hiera_l.yaml',
                          seed: int = 0) -> None:
    """Write a SAM2.1 checkpoint as published (``{"model": state_dict}``), random weights.

    The state dict is that of sam2's own ``build_sam2(model_cfg)``, whose names are
    those of the released ``sam2.1_hiera_*.pt`` files.
    """
    from sam2.build_sam import build_sam2
    torch.manual_seed(seed)
    model = build_sam2(model_cfg, ckpt_path=None, device='cpu', mode='eval',
                       apply_postprocessing=False)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    torch.save({'model': model.state_dict()}, path)
