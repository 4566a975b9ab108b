"""The special tokens of ReVIOSa's chat: role tokens, InternVL image tokens, ChatML tokens."""

#: Role tokens of ReVIOSa and the single-token baseline.
ACTOR_TOKEN = '[SEG_ACT]'
TARGET_TOKEN = '[SEG_TAR]'
SEG_TOKEN = '[SEG]'
ROLE_TOKENS = (ACTOR_TOKEN, TARGET_TOKEN, SEG_TOKEN)

#: Image tokens of InternVL-2.5 (remote-code and native layouts use the same strings).
IMG_START_TOKEN = '<img>'
IMG_END_TOKEN = '</img>'
IMG_CONTEXT_TOKEN = '<IMG_CONTEXT>'
IMAGE_TOKENS = (IMG_START_TOKEN, IMG_END_TOKEN, IMG_CONTEXT_TOKEN)

#: Tokens whose ids the model and the data pipeline must agree on. The order is that of the
#: ``special_token_ids`` buffer saved in the MLLM's checkpoints: do not reorder.
SPECIAL_TOKENS = (*ROLE_TOKENS, *IMAGE_TOKENS)

#: Chat tokens of Qwen2.5 / the InternVL-2.5 template; ``<|im_end|>`` ends every turn.
IM_END_TOKEN = '<|im_end|>'
CHAT_TOKENS = ('<|im_start|>', IM_END_TOKEN, '<|endoftext|>')

#: Label of the tokens that carry no language-model loss (prompt, padding).
IGNORE_INDEX = -100
