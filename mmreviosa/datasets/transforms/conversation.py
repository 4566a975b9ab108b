"""Tokenize the chat of an item (the chat itself is :mod:`mmreviosa.text.chat`).

The loss is taken on ``{ANSWER}<|im_end|>`` only (of every turn of a packed item).
"""
from typing import Dict, List, Optional

import torch
from mmcv.transforms import BaseTransform

from mmreviosa.datasets.packing import expressions_of
from mmreviosa.registry import TRANSFORMS
from mmreviosa.text import (CHAT_FORMATS, CHAT_TEMPLATE, IGNORE_INDEX, build_answer,
                            build_chat_prompt, build_followup_prompt, build_question,
                            build_tokenizer_from_cfg, check_conversation_mode,
                            get_special_token_ids)


@TRANSFORMS.register_module()
class TokenizeConversation(BaseTransform):
    """Build the chat text of an item and tokenize it.

    Required keys: ``expression``, ``has_interaction``, ``key_frame_inds``.
    Added keys: ``input_ids`` (L,) long, ``labels`` (L,) long (``-100`` on the
    prompt; absent with ``with_answer=False``), ``question``, ``answer``,
    ``role_token_ids``.

    A packed item (:mod:`mmreviosa.datasets.packing`, training only) becomes one
    multi-turn conversation, as Sa2VA packs a video's expressions: the first turn asks
    about its expression after the images, each later turn asks about the next
    expression (no images) after the previous answer; every answer is labelled. The
    causal mask lets a later turn see the earlier turns (questions and answers), never
    a later one; the first turn reads exactly what a one-expression item reads. Each
    turn gets its own ``question`` and ``answer``.

    Args:
        tokenizer (dict): config of the tokenizer, the same dict the model gets.
        num_image_tokens (int): visual tokens per frame after pixel shuffle
            (256 for InternVL-2.5 at 448 px).
        mode (str): 'roles' (ReVIOSa), 'single' (one [SEG] for the actor) or
            'single_target' (probe the single-[SEG] model for the target).
        with_answer (bool): append the answer and build ``labels`` (training).
        max_length (int, optional): raise if the prompt is longer.
        system_prompt (str, optional): the system turn; None (default) for the
            chat format's own (InternVL-2.5's for the real-scale InternVL configs),
            none when empty (the tiny configs: a randomly initialised model gains
            nothing from it; Sa2VA also trains without).
        chat_format (str): the image placeholders and system message of the
            MLLM's chat: 'internvl2_5' (``<img><IMG_CONTEXT>*N</img>\n`` per frame)
            or 'qwen2_5_vl' (``<|vision_start|><|image_pad|>*N<|vision_end|>`` per
            frame, Qwen2.5-VL's published template; see ``mmreviosa.text.qwen_vl_chat``).
    """

    def __init__(self, tokenizer, num_image_tokens: int, mode: str = 'roles',
                 with_answer: bool = True, max_length: Optional[int] = None,
                 system_prompt: Optional[str] = None, chat_format: str = 'internvl2_5'):
        check_conversation_mode(mode)
        if chat_format not in CHAT_FORMATS:
            raise ValueError(f'chat_format must be one of {list(CHAT_FORMATS)}, '
                             f'got {chat_format!r}')
        self.tokenizer = build_tokenizer_from_cfg(tokenizer)
        self.num_image_tokens = num_image_tokens
        self.mode = mode
        self.with_answer = with_answer
        self.max_length = max_length
        self.chat_format = chat_format
        self.system_prompt = CHAT_FORMATS[chat_format][1] if system_prompt is None \
            else system_prompt
        self.role_token_ids = get_special_token_ids(self.tokenizer)

    def _encode(self, text: str) -> List[int]:
        return self.tokenizer(text, add_special_tokens=False)['input_ids']

    def transform(self, results: Dict) -> Dict:
        turns = expressions_of(results)
        if len(turns) > 1 and not self.with_answer:
            raise ValueError(f'video {results.get("video_id")} expressions '
                             f'{results.get("exp_id")}: a packed item is a training item '
                             '(with_answer=True); test items hold one expression')
        input_ids: List[int] = []
        labels: List[int] = []
        for k, turn in enumerate(turns):
            question = build_question(self.mode, turn['expression'].strip().rstrip('.'))
            prompt = build_chat_prompt(
                self.chat_format, question, len(results['key_frame_inds']),
                self.num_image_tokens, self.system_prompt) if k == 0 else \
                build_followup_prompt(question)
            prompt_ids = self._encode(prompt)
            answer = build_answer(self.mode, bool(turn['has_interaction']))
            input_ids += prompt_ids
            labels += [IGNORE_INDEX] * len(prompt_ids)
            if self.with_answer:
                answer_ids = self._encode(answer + CHAT_TEMPLATE['SUFFIX'])
                input_ids += answer_ids
                labels += answer_ids
            turn['question'] = question
            turn['answer'] = answer
        if self.with_answer:
            results['labels'] = torch.tensor(labels, dtype=torch.long)
        if self.max_length is not None and len(input_ids) > self.max_length:
            raise ValueError(
                f'video {results.get("video_id")} expression {results.get("exp_id")}: '
                f'{len(input_ids)} tokens exceed max_length={self.max_length}')
        results['input_ids'] = torch.tensor(input_ids, dtype=torch.long)
        results['role_token_ids'] = self.role_token_ids
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_image_tokens={self.num_image_tokens}, '
                f'mode={self.mode!r}, with_answer={self.with_answer})')
