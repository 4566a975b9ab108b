"""The ``config`` argument of an MLLM wrapper: a named preset with overrides, or a small model."""
import copy
from typing import Dict, Optional, Tuple


def resolve_config_dict(config: dict, presets: Dict[str, Tuple[dict, dict, dict]],
                        backbone: str, vocab_size: Optional[int] = None
                        ) -> Tuple[dict, dict, dict]:
    """Split ``dict(preset=..., vision=..., text=..., **top_level)`` into its three parts.

    Args:
        config: the wrapper's ``config`` argument (not modified). With a
            ``preset``, ``vision``, ``text`` and the top-level fields override
            the preset's.
        presets: preset name -> (vision, text, top-level) fields of the published model.
        backbone: the backbone's name, for the error on an unknown preset.
        vocab_size: text vocabulary when neither the preset nor ``text`` sets one.

    Returns:
        (vision, text, top_level) field dicts, copies.
    """
    config = copy.deepcopy(dict(config))
    preset = config.pop('preset', None)
    vision, text = config.pop('vision', {}), config.pop('text', {})
    if preset is not None:
        if preset not in presets:
            raise ValueError(f'Unknown {backbone} preset {preset!r}; choose from {list(presets)}')
        preset_vision, preset_text, preset_top_level = copy.deepcopy(presets[preset])
        vision = {**preset_vision, **vision}
        text = {**preset_text, **text}
        config = {**preset_top_level, **config}
    if 'vocab_size' not in text:
        if vocab_size is None:
            raise ValueError('config.text.vocab_size is needed when there is no tokenizer')
        text['vocab_size'] = vocab_size
    return vision, text, config
