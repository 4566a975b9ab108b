"""The InternVL-2.5 chat of ReVIOSa: questions, answers and the prompt around them.

An item reads::

    <|im_start|>system\n{SYSTEM}<|im_end|>\n
    <|im_start|>user\n<img><IMG_CONTEXT>*N</img>\n ... (one per key frame)
    {QUESTION}<|im_end|>\n<|im_start|>assistant\n{ANSWER}<|im_end|>

A training item may pack several expressions of the video as later turns (Sa2VA's
multi-turn samples), each asked without the images, which the first turn holds::

    ...{ANSWER_1}<|im_end|>\n<|im_start|>user\n{QUESTION_2}<|im_end|>\n
    <|im_start|>assistant\n{ANSWER_2}<|im_end|>

The answer names the roles: "Sure, it is [SEG_ACT] and [SEG_TAR]." for an
interaction, "Sure, it is [SEG_ACT]." without one, and "Sure, it is [SEG]."
for the single-token baseline.

:data:`MODE_ROLE_TOKENS` is the one table of which role tokens a mode uses:
the model reads the hidden states of those tokens and the answers name them.
"""
from mmreviosa.text.tokens import (ACTOR_TOKEN, CHAT_TOKENS, IMG_CONTEXT_TOKEN, IMG_END_TOKEN,
                                   IMG_START_TOKEN, SEG_TOKEN, TARGET_TOKEN)

#: The system message of InternVL-2.5's chat template ('internvl2_5' in InternVL's
#: conversation.py), verbatim: what the published weights were fine-tuned with.
SYSTEM_PROMPT = ('你是书生·万象，英文名是InternVL，是由上海人工智能实验室、清华大学及多家合作单位'
                 '联合开发的多模态大语言模型。')

#: InternVL-2.5 (Qwen2.5 LLM) speaks ChatML: xtuner's ``qwen_chat`` template.
CHAT_TEMPLATE = dict(
    SYSTEM='<|im_start|>system\n{system}<|im_end|>\n',
    INSTRUCTION='<|im_start|>user\n{input}<|im_end|>\n<|im_start|>assistant\n',
    SUFFIX='<|im_end|>',
    SEP='\n')

#: Role tokens of the model's role modes, in output order (actor first). With
#: 'roles' the target token is named only when the expression has an interaction.
MODE_ROLE_TOKENS = {
    'roles': (ACTOR_TOKEN, TARGET_TOKEN),
    'single': (SEG_TOKEN, ),
}

#: Question of each conversation mode; each key is a model role mode except
#: 'single_target', which asks the 'single' model for the target (zero-shot probe).
QUESTION_TEMPLATES = {
    # ReVIOSa: segment the actor, and the target when there is an interaction.
    'roles': 'Please segment the actor and, if it interacts with another '
             'object, the target in this video: {exp}.',
    # Single-[SEG] baseline: segment the referred object.
    'single': 'Please segment the object referred to in this video: {exp}.',
    # Zero-shot target probing of the single-[SEG] model (paper's ablation).
    'single_target': 'Please segment the object that the following expression '
                     'acts upon in this video: {exp}.',
}

#: The model role mode of each conversation mode.
CONVERSATION_ROLE_MODES = {'roles': 'roles', 'single': 'single', 'single_target': 'single'}

ANSWER_ACTOR_TARGET = f'Sure, it is {ACTOR_TOKEN} and {TARGET_TOKEN}.'
ANSWER_ACTOR = f'Sure, it is {ACTOR_TOKEN}.'
ANSWER_SINGLE = f'Sure, it is {SEG_TOKEN}.'


def check_conversation_mode(mode: str) -> None:
    """Raise unless ``mode`` is a conversation mode ('roles', 'single', 'single_target')."""
    if mode not in QUESTION_TEMPLATES:
        raise ValueError(f'mode must be one of {list(QUESTION_TEMPLATES)}, got {mode!r}')


def build_question(mode: str, expression: str) -> str:
    """The user's question of conversation ``mode`` about ``expression`` (no final period)."""
    check_conversation_mode(mode)
    return QUESTION_TEMPLATES[mode].format(exp=expression)


def build_answer(mode: str, has_interaction: bool) -> str:
    """The answer the model is taught to give in conversation ``mode``.

    It names the role tokens of the mode's role mode (:data:`MODE_ROLE_TOKENS`);
    only the first one (the actor) without an interaction.
    """
    check_conversation_mode(mode)
    role_tokens = MODE_ROLE_TOKENS[CONVERSATION_ROLE_MODES[mode]]
    named = role_tokens if has_interaction else role_tokens[:1]
    return f'Sure, it is {" and ".join(named)}.'


def build_followup_prompt(question: str) -> str:
    """A later turn's prompt: what follows the previous answer's ``<|im_end|>`` up to (and
    including) the assistant header. Both chat formats (InternVL-2.5, Qwen2.5-VL) are ChatML."""
    return CHAT_TEMPLATE['SEP'] + CHAT_TEMPLATE['INSTRUCTION'].format(input=question)


def build_prompt(question: str, num_frames: int, num_image_tokens: int,
                 system_prompt: str = SYSTEM_PROMPT) -> str:
    """The chat prompt up to (and including) the assistant header (no system turn if empty)."""
    image_block = ''.join(
        f'{IMG_START_TOKEN}{IMG_CONTEXT_TOKEN * num_image_tokens}{IMG_END_TOKEN}\n'
        for _ in range(num_frames))
    system = CHAT_TEMPLATE['SYSTEM'].format(system=system_prompt) if system_prompt else ''
    return system + CHAT_TEMPLATE['INSTRUCTION'].format(input=image_block + question)


def display_answer(answer: str, pad_token: str = None) -> str:
    """A generated answer as people read it: without the chat's control tokens
    (``<|im_end|>``, ``<|im_start|>``, ``<|endoftext|>``, and ``pad_token``) and
    surrounding space; the role tokens, which are what the answer says, stay."""
    for token in (*CHAT_TOKENS, *([pad_token] if pad_token else [])):
        answer = answer.replace(token, ' ')
    return ' '.join(answer.split())
