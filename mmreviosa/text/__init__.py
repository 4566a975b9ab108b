"""The text of ReVIOSa's chat, shared by the data pipeline and the model.

Role, image and chat tokens (:mod:`.tokens`), the questions, answers and prompt
(:mod:`.chat`, with :data:`MODE_ROLE_TOKENS`, the one table of role tokens per
role mode), and the tokenizers (:mod:`.tokenizer`, :mod:`.tiny_tokenizer`).
It imports nothing of mmreviosa but the registry and utils, so that both
``mmreviosa.datasets`` and ``mmreviosa.models`` can import it.
"""
from .chat import (ANSWER_ACTOR, ANSWER_ACTOR_TARGET, ANSWER_SINGLE, CHAT_TEMPLATE,
                   CONVERSATION_ROLE_MODES, MODE_ROLE_TOKENS, QUESTION_TEMPLATES, SYSTEM_PROMPT,
                   build_answer, build_followup_prompt, build_prompt, build_question,
                   check_conversation_mode, display_answer)
from .qwen_vl_chat import (CHAT_FORMATS, IMAGE_PAD_TOKEN, QWEN_VL_IMAGE_TOKENS,
                           QWEN_VL_SYSTEM_PROMPT, VISION_END_TOKEN, VISION_START_TOKEN,
                           build_chat_prompt, build_qwen_vl_prompt)
from .tiny_tokenizer import build_tiny_tokenizer
from .tokenizer import build_role_tokenizer, build_tokenizer_from_cfg, get_special_token_ids
from .tokens import (ACTOR_TOKEN, CHAT_TOKENS, IGNORE_INDEX, IM_END_TOKEN, IMAGE_TOKENS,
                     IMG_CONTEXT_TOKEN, IMG_END_TOKEN, IMG_START_TOKEN, ROLE_TOKENS, SEG_TOKEN,
                     SPECIAL_TOKENS, TARGET_TOKEN)

__all__ = [
    'ACTOR_TOKEN', 'TARGET_TOKEN', 'SEG_TOKEN', 'ROLE_TOKENS', 'IMG_START_TOKEN',
    'IMG_END_TOKEN', 'IMG_CONTEXT_TOKEN', 'IMAGE_TOKENS', 'SPECIAL_TOKENS', 'IM_END_TOKEN',
    'CHAT_TOKENS', 'IGNORE_INDEX', 'SYSTEM_PROMPT', 'CHAT_TEMPLATE', 'MODE_ROLE_TOKENS',
    'QUESTION_TEMPLATES', 'CONVERSATION_ROLE_MODES', 'ANSWER_ACTOR_TARGET', 'ANSWER_ACTOR',
    'ANSWER_SINGLE', 'check_conversation_mode', 'build_question',
    'build_answer', 'build_followup_prompt', 'build_prompt', 'display_answer',
    'build_tiny_tokenizer',
    'build_role_tokenizer', 'get_special_token_ids', 'build_tokenizer_from_cfg',
    'VISION_START_TOKEN', 'IMAGE_PAD_TOKEN', 'VISION_END_TOKEN', 'QWEN_VL_IMAGE_TOKENS',
    'QWEN_VL_SYSTEM_PROMPT', 'CHAT_FORMATS', 'build_qwen_vl_prompt', 'build_chat_prompt'
]
