"""InternVL-2.5 and InternVL3 configurations: the published architectures and small random ones."""
import copy
from typing import Optional

from mmreviosa.models.mllm.config_dict import resolve_config_dict

# InternViT-300M-448px-V2_5, the vision tower of InternVL-2.5 1B/4B and of InternVL3 1B/2B.
_INTERNVIT_300M = dict(
    hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
    attention_bias=True, use_qk_norm=False, norm_type='layer_norm', layer_norm_eps=1e-6,
    image_size=[448, 448], patch_size=[14, 14], hidden_act='gelu', use_mean_pooling=True)
# Qwen2.5-{0.5B,1.5B,3B} with InternVL's 9 added tokens (vocab 151674); InternVL-2.5 and
# InternVL3 untie lm_head from the embeddings at every size (`tie_word_embeddings: false`).
_QWEN2_5_COMMON = dict(
    vocab_size=151674, hidden_act='silu', max_position_embeddings=32768, rope_theta=1e6,
    rms_norm_eps=1e-6, tie_word_embeddings=False, bos_token_id=151643, eos_token_id=151645)
_PRESETS = {
    'internvl2_5_1b': dict(hidden_size=896, num_hidden_layers=24, num_attention_heads=14,
                           num_key_value_heads=2, intermediate_size=4864),
    'internvl2_5_4b': dict(hidden_size=2048, num_hidden_layers=36, num_attention_heads=16,
                           num_key_value_heads=2, intermediate_size=11008),
    # InternVL3 (config.json `template: internvl2_5`, `select_layer: -1`, `ps_version: v2`,
    # `downsample_ratio: 0.5`): the same ViT, MLP and ChatML template as InternVL-2.5, so the
    # same native classes. InternVL3-1B is InternVL-2.5-1B's architecture (Qwen2.5-0.5B).
    # Its llm_config also has `rope_scaling: {type: dynamic, factor: 2.0}`, left out here:
    # dynamic NTK only acts past max_position_embeddings (32768), which the MLLM refuses, and
    # a pretrained folder brings its own config.
    'internvl3_1b': dict(hidden_size=896, num_hidden_layers=24, num_attention_heads=14,
                         num_key_value_heads=2, intermediate_size=4864),
    # InternVL3-2B: Qwen2.5-1.5B (head_dim 128, 12 query heads over 2 kv heads).
    'internvl3_2b': dict(hidden_size=1536, num_hidden_layers=28, num_attention_heads=12,
                         num_key_value_heads=2, intermediate_size=8960),
}

#: Preset name -> (vision, text, top-level) fields.
_PRESET_FIELDS = {
    name: (_INTERNVIT_300M, {**_QWEN2_5_COMMON, **text},
           {'image_token_id': 151667, 'downsample_ratio': 0.5})
    for name, text in _PRESETS.items()}


def _build_internvl_config(vision: dict, text: dict, **kwargs):
    from transformers import InternVLConfig, InternVLVisionConfig, Qwen2Config
    text = dict(text)
    text.setdefault('tie_word_embeddings', False)
    # The top-level flag is what peft reads to decide whether lm_head rows are tied.
    kwargs.setdefault('tie_word_embeddings', text['tie_word_embeddings'])
    kwargs.setdefault('vision_feature_layer', -1)
    return InternVLConfig(vision_config=InternVLVisionConfig(**vision),
                          text_config=Qwen2Config(**text), **kwargs)


def config_from_dict(config: dict, vocab_size: Optional[int] = None):
    """Build an ``InternVLConfig`` from the ``config`` argument of :class:`InternVLMLLM`.

    Args:
        config: ``dict(preset=..., vision=..., text=..., **top_level)``; with a
            ``preset`` ('internvl2_5_1b', 'internvl2_5_4b', 'internvl3_1b',
            'internvl3_2b'), ``vision`` and
            ``text`` override its fields. An ``InternVLConfig`` is returned as a copy.
        vocab_size: text vocabulary when neither the preset nor ``text`` sets one.
    """
    from transformers import InternVLConfig
    if isinstance(config, InternVLConfig):
        return copy.deepcopy(config)
    vision, text, config = resolve_config_dict(config, _PRESET_FIELDS, 'InternVL', vocab_size)
    return _build_internvl_config(vision, text, **config)
