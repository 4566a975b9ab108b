"""The Qwen2.5-VL chat of ReVIOSa: image placeholders and system turn of its published template.

Qwen2.5-VL-Instruct's ``chat_template`` (``chat_template.json`` of the published
checkpoints) writes a system turn "You are a helpful assistant." when the chat
has none, one ``<|vision_start|><|image_pad|><|vision_end|>`` per image content
with nothing between them nor before the text, and its processor repeats
``<|image_pad|>`` once per merged visual token.  An item reads::

    <|im_start|>system\nYou are a helpful assistant.<|im_end|>\n
    <|im_start|>user\n<|vision_start|><|image_pad|>*N<|vision_end|> ... (one per key frame)
    {QUESTION}<|im_end|>\n<|im_start|>assistant\n{ANSWER}<|im_end|>

The questions and answers are those of :mod:`mmreviosa.text.chat`.
"""
from mmreviosa.text.chat import CHAT_TEMPLATE, SYSTEM_PROMPT, build_prompt

#: Image tokens of Qwen2-VL / Qwen2.5-VL (in the published tokenizer's vocabulary).
VISION_START_TOKEN = '<|vision_start|>'
IMAGE_PAD_TOKEN = '<|image_pad|>'
VISION_END_TOKEN = '<|vision_end|>'
QWEN_VL_IMAGE_TOKENS = (VISION_START_TOKEN, IMAGE_PAD_TOKEN, VISION_END_TOKEN)

#: The system message the published template writes when the chat has none.
QWEN_VL_SYSTEM_PROMPT = 'You are a helpful assistant.'


def build_qwen_vl_prompt(question: str, num_frames: int, num_image_tokens: int,
                         system_prompt: str = QWEN_VL_SYSTEM_PROMPT) -> str:
    """The Qwen2.5-VL chat prompt up to (and including) the assistant header.

    Args:
        question: the user's question (after the images, as the template places
            text content that follows the image contents).
        num_frames: images in the user turn.
        num_image_tokens: ``<|image_pad|>`` per image (merged tokens, 256 at 448 px).
        system_prompt: the system turn; no system turn when empty.
    """
    image_block = ''.join(
        f'{VISION_START_TOKEN}{IMAGE_PAD_TOKEN * num_image_tokens}{VISION_END_TOKEN}'
        for _ in range(num_frames))
    system = CHAT_TEMPLATE['SYSTEM'].format(system=system_prompt) if system_prompt else ''
    return system + CHAT_TEMPLATE['INSTRUCTION'].format(input=image_block + question)


#: Chat formats of :class:`~mmreviosa.datasets.transforms.TokenizeConversation`:
#: name -> (prompt builder, default system prompt).
CHAT_FORMATS = {
    'internvl2_5': (build_prompt, SYSTEM_PROMPT),
    'qwen2_5_vl': (build_qwen_vl_prompt, QWEN_VL_SYSTEM_PROMPT),
}


def build_chat_prompt(chat_format: str, question: str, num_frames: int, num_image_tokens: int,
                      system_prompt=None) -> str:
    """The prompt of ``chat_format`` ('internvl2_5' or 'qwen2_5_vl').

    ``system_prompt`` None means the format's own system message; '' means none.
    """
    if chat_format not in CHAT_FORMATS:
        raise ValueError(f'chat_format must be one of {list(CHAT_FORMATS)}, got {chat_format!r}')
    builder, default_system = CHAT_FORMATS[chat_format]
    return builder(question, num_frames, num_image_tokens,
                   default_system if system_prompt is None else system_prompt)
