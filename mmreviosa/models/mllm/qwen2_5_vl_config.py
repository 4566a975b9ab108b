"""Configurations of Qwen2.5-VL: the published 3B architecture and small random ones."""
import copy
from typing import Optional

from mmreviosa.models.mllm.config_dict import resolve_config_dict

# Fields of `config.json` of Qwen/Qwen2.5-VL-3B-Instruct (Hugging Face hub), the vision tower.
_QWEN2_5_VL_VISION = dict(
    depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, hidden_act='silu',
    in_channels=3, patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112,
    fullatt_block_indexes=[7, 15, 23, 31], tokens_per_second=2)
# The language model (Qwen2.5-3B) of the same file; M-RoPE splits the 128-d heads' 64
# frequencies into temporal / height / width sections.
_QWEN2_5_VL_TEXT_COMMON = dict(
    vocab_size=151936, hidden_act='silu', max_position_embeddings=128000, rope_theta=1e6,
    rms_norm_eps=1e-6, use_sliding_window=False, sliding_window=32768, max_window_layers=70,
    bos_token_id=151643, eos_token_id=151645,
    rope_scaling={'type': 'mrope', 'mrope_section': [16, 24, 24]})
_PRESETS = {
    'qwen2_5_vl_3b': dict(
        vision=dict(out_hidden_size=2048),
        text=dict(hidden_size=2048, num_hidden_layers=36, num_attention_heads=16,
                  num_key_value_heads=2, intermediate_size=11008, tie_word_embeddings=True)),
}
#: Image-token ids of the published tokenizer (``<|image_pad|>``, ``<|vision_start|>``...).
_PUBLISHED_TOKEN_IDS = dict(image_token_id=151655, video_token_id=151656,
                            vision_start_token_id=151652, vision_end_token_id=151653)

#: Preset name -> (vision, text, top-level) fields.
_PRESET_FIELDS = {
    name: ({**_QWEN2_5_VL_VISION, **preset['vision']},
           {**_QWEN2_5_VL_TEXT_COMMON, **preset['text']}, _PUBLISHED_TOKEN_IDS)
    for name, preset in _PRESETS.items()}


def _build_qwen2_5_vl_config(vision: dict, text: dict, **kwargs):
    from transformers import Qwen2_5_VLConfig
    text = copy.deepcopy(dict(text))
    text.setdefault('tie_word_embeddings', False)
    vision = dict(vision)
    # The merger writes into the LLM's embedding space.
    vision.setdefault('out_hidden_size', text['hidden_size'])
    # The top-level flag is what peft reads to decide whether lm_head rows are tied.
    kwargs.setdefault('tie_word_embeddings', text['tie_word_embeddings'])
    return Qwen2_5_VLConfig(vision_config=vision, text_config=text, **kwargs)


def qwen2_5_vl_config_from_dict(config: dict, vocab_size: Optional[int] = None):
    """Build a ``Qwen2_5_VLConfig`` from the ``config`` argument of :class:`QwenVLMLLM`.

    Args:
        config: ``dict(preset=..., vision=..., text=..., **top_level)``; with a
            ``preset`` ('qwen2_5_vl_3b'), ``vision`` and ``text`` override its
            fields. A small model needs ``text.rope_scaling`` with an
            ``mrope_section`` summing to head_dim / 2. A ``Qwen2_5_VLConfig``
            is returned as a copy.
        vocab_size: text vocabulary when neither the preset nor ``text`` sets one.
    """
    from transformers import Qwen2_5_VLConfig
    if isinstance(config, Qwen2_5_VLConfig):
        return copy.deepcopy(config)
    vision, text, config = resolve_config_dict(config, _PRESET_FIELDS, 'Qwen2.5-VL',
                                               vocab_size)
    return _build_qwen2_5_vl_config(vision, text, **config)
