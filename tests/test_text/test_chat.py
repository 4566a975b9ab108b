"""The chat text: answers per mode, the prompt layout, and the one role-token table."""
import pytest

from mmreviosa.text import (ANSWER_ACTOR, ANSWER_ACTOR_TARGET, ANSWER_SINGLE, CHAT_TEMPLATE,
                            CONVERSATION_ROLE_MODES, MODE_ROLE_TOKENS, QUESTION_TEMPLATES,
                            build_answer, build_prompt, build_question)


@pytest.mark.parametrize('mode, has_interaction, answer', [
    ('roles', True, 'Sure, it is [SEG_ACT] and [SEG_TAR].'),
    ('roles', False, 'Sure, it is [SEG_ACT].'),
    ('single', True, 'Sure, it is [SEG].'),
    ('single', False, 'Sure, it is [SEG].'),
    ('single_target', True, 'Sure, it is [SEG].'),
    ('single_target', False, 'Sure, it is [SEG].'),
])
def test_answers(mode, has_interaction, answer):
    assert build_answer(mode, has_interaction) == answer


def test_answer_constants_are_what_build_answer_gives():
    # The constants are part of the tiny tokenizer's corpus: the answers must not drift.
    assert build_answer('roles', True) == ANSWER_ACTOR_TARGET
    assert build_answer('roles', False) == ANSWER_ACTOR
    assert build_answer('single', False) == ANSWER_SINGLE


def test_every_conversation_mode_maps_to_a_model_role_mode():
    assert set(CONVERSATION_ROLE_MODES) == set(QUESTION_TEMPLATES)
    assert set(CONVERSATION_ROLE_MODES.values()) == set(MODE_ROLE_TOKENS)
    assert MODE_ROLE_TOKENS == {'roles': ('[SEG_ACT]', '[SEG_TAR]'), 'single': ('[SEG]', )}


def test_unknown_modes_are_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"\['roles', 'single', 'single_target'\], got 'pairs'"):
        build_answer('pairs', True)


def test_question():
    assert build_question('single', 'the red star') == \
        'Please segment the object referred to in this video: the red star.'


def test_prompt_without_system_turn():
    prompt = build_prompt('Q?', num_frames=2, num_image_tokens=2, system_prompt='')
    assert prompt == ('<|im_start|>user\n'
                      '<img><IMG_CONTEXT><IMG_CONTEXT></img>\n'
                      '<img><IMG_CONTEXT><IMG_CONTEXT></img>\n'
                      'Q?<|im_end|>\n<|im_start|>assistant\n')


def test_prompt_with_system_turn():
    prompt = build_prompt('Q?', num_frames=1, num_image_tokens=1, system_prompt='S.')
    assert prompt == ('<|im_start|>system\nS.<|im_end|>\n<|im_start|>user\n'
                      '<img><IMG_CONTEXT></img>\nQ?<|im_end|>\n<|im_start|>assistant\n')


def test_chat_template_is_xtuners_qwen_chat():
    templates = pytest.importorskip('xtuner.utils').PROMPT_TEMPLATE
    assert {k: templates.qwen_chat[k] for k in CHAT_TEMPLATE} == CHAT_TEMPLATE


def test_followup_turn_continues_the_chatml_conversation():
    from mmreviosa.text import build_followup_prompt
    assert build_followup_prompt('Q2?') == \
        '\n<|im_start|>user\nQ2?<|im_end|>\n<|im_start|>assistant\n'


def test_display_answer_drops_chat_tokens_and_keeps_role_tokens():
    from mmreviosa.text import display_answer
    assert display_answer('Sure, it is [SEG_ACT] and [SEG_TAR].<|im_end|>') == \
        'Sure, it is [SEG_ACT] and [SEG_TAR].'
    assert display_answer(' Sure, it is [SEG_ACT].<|im_end|><|endoftext|><pad>',
                          pad_token='<pad>') == 'Sure, it is [SEG_ACT].'
