from mmreviosa.text import (ACTOR_TOKEN, IMG_CONTEXT_TOKEN, ROLE_TOKENS, SEG_TOKEN, TARGET_TOKEN,
                            build_role_tokenizer, build_tiny_tokenizer, get_special_token_ids)
from .base import MLLMBase, MLLMOutput
from .internvl import InternVLMLLM
from .qwen2_5_vl import QwenVLMLLM

__all__ = [
    'MLLMBase', 'MLLMOutput', 'InternVLMLLM', 'QwenVLMLLM', 'ACTOR_TOKEN', 'TARGET_TOKEN',
    'SEG_TOKEN', 'ROLE_TOKENS', 'IMG_CONTEXT_TOKEN', 'build_role_tokenizer', 'build_tiny_tokenizer',
    'get_special_token_ids'
]
