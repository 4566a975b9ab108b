"""TokenizeConversation: the chat of an item as token ids, with the loss on the answer only."""
import pytest

from mmreviosa.datasets.transforms.conversation import TokenizeConversation
from mmreviosa.text import build_role_tokenizer

TOKENIZER = dict(type='build_role_tokenizer', tokenizer=dict(type='build_tiny_tokenizer'))


@pytest.fixture(scope='module')
def tokenizer():
    return build_role_tokenizer(dict(type='build_tiny_tokenizer'))


def _item(has_interaction=True):
    return dict(expression=' the red square pushing the blue star. ',
                has_interaction=has_interaction, key_frame_inds=[0, 3, 5])


def test_labels_cover_the_answer_and_its_end_token(tokenizer):
    results = TokenizeConversation(tokenizer, num_image_tokens=4, system_prompt='')(_item())
    input_ids, labels = results['input_ids'].tolist(), results['labels'].tolist()
    answer_ids = tokenizer.encode('Sure, it is [SEG_ACT] and [SEG_TAR].<|im_end|>',
                                  add_special_tokens=False)
    num_answer = len(answer_ids)
    assert input_ids[-num_answer:] == answer_ids and labels[-num_answer:] == answer_ids
    assert set(labels[:-num_answer]) == {-100}
    # 3 key frames x 4 image tokens; the expression lost its spaces and final period.
    assert input_ids.count(results['role_token_ids']['<IMG_CONTEXT>']) == 12
    assert results['question'].endswith('in this video: the red square pushing the blue star.')


@pytest.mark.parametrize('mode, has_interaction, answer', [
    ('roles', False, 'Sure, it is [SEG_ACT].'),
    ('single', True, 'Sure, it is [SEG].'),
    ('single_target', True, 'Sure, it is [SEG].'),
])
def test_answer_per_mode(tokenizer, mode, has_interaction, answer):
    results = TokenizeConversation(tokenizer, num_image_tokens=1, mode=mode)(
        _item(has_interaction))
    assert results['answer'] == answer


def test_without_answer_the_prompt_ends_with_the_assistant_header(tokenizer):
    results = TokenizeConversation(tokenizer, num_image_tokens=1, with_answer=False)(_item())
    assert 'labels' not in results
    assert tokenizer.decode(results['input_ids']).endswith('<|im_start|>assistant\n')


def test_pipeline_and_model_token_ids_come_from_the_same_config():
    transform = TokenizeConversation(TOKENIZER, num_image_tokens=1)
    vocab = build_role_tokenizer(dict(type='build_tiny_tokenizer')).get_vocab()
    assert transform.role_token_ids == {t: vocab[t] for t in transform.role_token_ids}
    assert set(transform.role_token_ids) == {'[SEG_ACT]', '[SEG_TAR]', '[SEG]', '<img>', '</img>',
                                             '<IMG_CONTEXT>'}


def test_too_long_item_names_video_and_expression(tokenizer):
    transform = TokenizeConversation(tokenizer, num_image_tokens=16, max_length=20)
    with pytest.raises(ValueError, match=r'video v1 expression 7: \d+ tokens exceed max_length=20'):
        transform(dict(_item(), video_id='v1', exp_id='7'))


def test_unknown_mode_is_refused(tokenizer):
    with pytest.raises(ValueError, match="mode must be one of"):
        TokenizeConversation(tokenizer, num_image_tokens=1, mode='pairs')
