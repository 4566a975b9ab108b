"""The InternVL-2.5 chat format of ReVIOSa and its tokenization.

A training item becomes::

    <|im_start|>system\n{SYSTEM}<|im_end|>\n
    <|im_start|>user\n<img><IMG_CONTEXT>*N</img>\n ... (one per key frame)
    {QUESTION}<|im_end|>\n<|im_start|>assistant\n{ANSWER}<|im_end|>

with the loss on ``{ANSWER}<|im_end|>`` only.  The answer names the roles:
"Sure, it is [SEG_ACT] and [SEG_TAR]." for an interaction,
"Sure, it is [SEG_ACT]." without one, and "Sure, it is [SEG]." for the
single-token baseline.
"""
from typing import Dict, List, Optional

import torch
from mmcv.transforms import BaseTransform
from xtuner.utils import PROMPT_TEMPLATE

from mmreviosa.models.mllm.tokenizer import (ACTOR_TOKEN, IGNORE_INDEX, IMG_CONTEXT_TOKEN,
                                             IMG_END_TOKEN, IMG_START_TOKEN, SEG_TOKEN,
                                             TARGET_TOKEN, build_tokenizer_from_cfg,
                                             get_special_token_ids)
from mmreviosa.registry import TRANSFORMS

#: The system message of InternVL-2.5's chat template ('internvl2_5' in InternVL's
#: conversation.py), verbatim: what the published weights were fine-tuned with.
SYSTEM_PROMPT = ('你是书生·万象，英文名是InternVL，是由上海人工智能实验室、清华大学及多家合作单位'
                 '联合开发的多模态大语言模型。')
# Part of the corpus of the tiny tokenizer since its first release; kept verbatim so that
# the tiny tokenizer, and the token ids recorded in its checkpoints, stay the same.
_TINY_CORPUS_SYSTEM_TEXT = ('You are InternVL, a multimodal large language model jointly '
                            'developed by Shanghai AI Laboratory and SenseTime.')
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
ANSWER_ACTOR_TARGET = f'Sure, it is {ACTOR_TOKEN} and {TARGET_TOKEN}.'
ANSWER_ACTOR = f'Sure, it is {ACTOR_TOKEN}.'
ANSWER_SINGLE = f'Sure, it is {SEG_TOKEN}.'
# InternVL-2.5 (Qwen2.5 LLM) speaks ChatML, which is xtuner's `qwen_chat` template.
CHAT_TEMPLATE = PROMPT_TEMPLATE.qwen_chat


def build_answer(mode: str, has_interaction: bool) -> str:
    """The answer the model is taught to give for ``mode`` ('roles'/'single'/'single_target')."""
    if mode == 'roles':
        return ANSWER_ACTOR_TARGET if has_interaction else ANSWER_ACTOR
    return ANSWER_SINGLE


def build_prompt(question: str, num_frames: int, num_image_tokens: int,
                 system_prompt: str = SYSTEM_PROMPT) -> str:
    """The chat prompt up to (and including) the assistant header (no system turn if empty)."""
    image_block = ''.join(
        f'{IMG_START_TOKEN}{IMG_CONTEXT_TOKEN * num_image_tokens}{IMG_END_TOKEN}\n'
        for _ in range(num_frames))
    system = CHAT_TEMPLATE['SYSTEM'].format(system=system_prompt) if system_prompt else ''
    return system + CHAT_TEMPLATE['INSTRUCTION'].format(input=image_block + question)


def corpus_sentences() -> List[str]:
    """Fixed text of the templates (used to train the tiny tokenizer)."""
    out = [_TINY_CORPUS_SYSTEM_TEXT, ANSWER_ACTOR_TARGET, ANSWER_ACTOR, ANSWER_SINGLE]
    out += [q.replace('{exp}', '') for q in QUESTION_TEMPLATES.values()]
    out += ['<|im_start|>system\n', '<|im_start|>user\n', '<|im_start|>assistant\n']
    return out


@TRANSFORMS.register_module()
class TokenizeConversation(BaseTransform):
    """Build the chat text of an item and tokenize it.

    Required keys: ``expression``, ``has_interaction``, ``key_frame_inds``.
    Added keys: ``input_ids`` (L,) long, ``labels`` (L,) long (``-100`` on the
    prompt; absent with ``with_answer=False``), ``question``, ``answer``,
    ``role_token_ids``.

    Args:
        tokenizer (dict): config of the tokenizer, the same dict the model gets.
        num_image_tokens (int): visual tokens per frame after pixel shuffle
            (256 for InternVL-2.5 at 448 px).
        mode (str): 'roles' (ReVIOSa), 'single' (one [SEG] for the actor) or
            'single_target' (probe the single-[SEG] model for the target).
        with_answer (bool): append the answer and build ``labels`` (training).
        max_length (int, optional): raise if the prompt is longer.
        system_prompt (str): the system turn; InternVL-2.5's by default (the
            real-scale configs), none when empty (the tiny configs: a randomly
            initialised model gains nothing from it; Sa2VA also trains without).
    """

    def __init__(self, tokenizer, num_image_tokens: int, mode: str = 'roles',
                 with_answer: bool = True, max_length: Optional[int] = None,
                 system_prompt: str = SYSTEM_PROMPT):
        if mode not in QUESTION_TEMPLATES:
            raise ValueError(f'mode must be one of {list(QUESTION_TEMPLATES)}, got {mode!r}')
        self.tokenizer = build_tokenizer_from_cfg(tokenizer)
        self.num_image_tokens = num_image_tokens
        self.mode = mode
        self.with_answer = with_answer
        self.max_length = max_length
        self.system_prompt = system_prompt
        self.role_token_ids = get_special_token_ids(self.tokenizer)

    def _encode(self, text: str) -> List[int]:
        return self.tokenizer(text, add_special_tokens=False)['input_ids']

    def transform(self, results: Dict) -> Dict:
        expression = results['expression'].strip().rstrip('.')
        question = QUESTION_TEMPLATES[self.mode].format(exp=expression)
        prompt = build_prompt(question, len(results['key_frame_inds']), self.num_image_tokens,
                              self.system_prompt)
        prompt_ids = self._encode(prompt)
        answer = build_answer(self.mode, bool(results['has_interaction']))
        if self.with_answer:
            answer_ids = self._encode(answer + CHAT_TEMPLATE['SUFFIX'])
            input_ids = prompt_ids + answer_ids
            labels = [IGNORE_INDEX] * len(prompt_ids) + answer_ids
            results['labels'] = torch.tensor(labels, dtype=torch.long)
        else:
            input_ids = prompt_ids
        if self.max_length is not None and len(input_ids) > self.max_length:
            raise ValueError(
                f'video {results.get("video_id")} expression {results.get("exp_id")}: '
                f'{len(input_ids)} tokens exceed max_length={self.max_length}')
        results['input_ids'] = torch.tensor(input_ids, dtype=torch.long)
        results['question'] = question
        results['answer'] = answer
        results['role_token_ids'] = self.role_token_ids
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_image_tokens={self.num_image_tokens}, '
                f'mode={self.mode!r}, with_answer={self.with_answer})')
