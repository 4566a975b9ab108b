"""The tiny tokenizer gives the token ids recorded in the tiny checkpoints."""
import json
import os.path as osp

import pytest

from mmreviosa.text import SPECIAL_TOKENS, build_role_tokenizer, build_tiny_tokenizer

RELEASED = osp.join(osp.dirname(__file__), '..', 'data', 'tokenizers', 'tiny_tokenizer_vocab.json')


@pytest.fixture(scope='module')
def released():
    with open(RELEASED, encoding='utf-8') as f:
        return json.load(f)


@pytest.fixture(scope='module')
def tiny():
    return build_tiny_tokenizer()


def test_vocabulary_and_ids_are_the_released_ones(tiny, released):
    assert tiny.get_vocab() == released['vocab']


def test_merges_are_the_released_ones(tiny, released):
    model = json.loads(tiny.backend_tokenizer.to_str())['model']
    merges = [' '.join(m) if isinstance(m, list) else m for m in model['merges']]
    assert merges == released['merges']


def test_role_and_image_tokens_get_the_released_ids(released):
    tokenizer = build_role_tokenizer(dict(type='build_tiny_tokenizer'))
    vocab = tokenizer.get_vocab()
    assert {t: vocab[t] for t in SPECIAL_TOKENS} == released['role_tokenizer_added']
    assert len(tokenizer) == len(released['vocab']) + len(released['role_tokenizer_added'])


def test_config_dict_builds_the_same_tokenizer(tiny):
    from mmreviosa.registry import TOKENIZERS
    assert TOKENIZERS.build(dict(type='build_tiny_tokenizer')).get_vocab() == tiny.get_vocab()
