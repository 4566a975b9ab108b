"""Chat backends: strict reply parsing, the HTTP client against a real stub server
process on loopback (malformed replies, timeouts, retries, cache), the local
transformers backend."""
import json
import logging
import os
import os.path as osp
import shutil

import pytest

from mmreviosa.builders.vidor import ConvertOptions, convert
from mmreviosa.builders.vidor.backends import OpenAIChatBackend, build_backend
from mmreviosa.builders.vidor.llm import MalformedReply, check_roles, parse_reply


def read_json(*parts):
    with open(osp.join(*parts)) as file:
        return json.load(file)


# ---------------------------------------------------------------- parsing
def test_parse_reply_accepts_exactly_the_schema():
    assert parse_reply('{"expression": " the red dog "}', 'describe') == \
        {'expression': 'the red dog'}
    fenced = '```json\n{"is_interaction": false, "reason": "only placed"}\n```'
    assert parse_reply(fenced, 'interaction') == {'is_interaction': False,
                                                  'reason': 'only placed'}


@pytest.mark.parametrize('reply', [
    'Sure! the red dog',                                     # not JSON
    '["the red dog"]',                                       # not an object
    '{"expression": "the red dog", "note": "x"}',            # extra key
    '{"text": "the red dog"}',                               # wrong key
    '{"expression": 3}',                                     # wrong type
    '{"expression": ""}',                                    # empty
    '{"expression": "the red\\ndog"}',                       # several lines
    '{"expression": "the dog"} and more',                    # trailing text
])
def test_parse_reply_rejects_anything_else(reply):
    with pytest.raises(MalformedReply):
        parse_reply(reply, 'describe')


def test_parse_reply_types_are_strict():
    with pytest.raises(MalformedReply):
        parse_reply('{"is_interaction": "yes", "reason": "x"}', 'interaction')


def test_role_check():
    check_roles('the man pushing the baby walker', 'adult', 'baby_walker')
    check_roles('the adult in red watching the adult in green', 'adult', 'adult')
    with pytest.raises(MalformedReply):
        check_roles('the baby walker being pushed by the adult', 'adult', 'baby_walker')
    with pytest.raises(MalformedReply):
        check_roles('the adult pushing something', 'adult', 'baby_walker')


# ---------------------------------------------------------------- configuration
def test_openai_settings_come_from_config_or_environment(monkeypatch, tmp_path):
    monkeypatch.setenv('OPENAI_BASE_URL', 'https://example.invalid/v1/')
    monkeypatch.setenv('OPENAI_API_KEY', 'sk-test')
    monkeypatch.setenv('OPENAI_MODEL', 'env-model')
    backend = build_backend('openai', {}, cache_dir=str(tmp_path))
    assert (backend.base_url, backend.api_key, backend.model) == \
        ('https://example.invalid/v1', 'sk-test', 'env-model')
    assert build_backend('openai', {'model': 'cfg-model'}).model == 'cfg-model'
    # The key is never part of what is stored in stage files.
    assert 'sk-test' not in json.dumps(backend.params())
    monkeypatch.delenv('OPENAI_MODEL')
    with pytest.raises(ValueError, match='OPENAI_MODEL'):
        build_backend('openai', {})
    with pytest.raises(ValueError, match='unexpected keyword'):
        build_backend('openai', {'model': 'm', 'colour': 'red'})
    with pytest.raises(ValueError, match='model_path'):
        build_backend('hf', {})


# ---------------------------------------------------------------- HTTP client
def openai_options(vidor_root, out, base_url, **config):
    llm_config = dict(base_url=base_url, model='stub-model', api_key='sk-test', timeout=0.5,
                      backoff=0.01, max_retries=3, **config)
    return ConvertOptions(vidor_root, 'training', out, mask_source='box', backend='openai',
                          llm_config=llm_config, video_ids=['1002'])


def test_http_backend_retries_through_faults_and_rejects_wrong_roles(vidor_root, tmp_path,
                                                                     stub_server, caplog):
    # Request 1: malformed; 2: answered after the client's 0.5 s timeout; 3: HTTP 500.
    # "chase" is always answered with the roles swapped.
    base_url, request_count = stub_server(faults=['malformed', 'sleep:2', 'http500'],
                                          swap_roles=['chase'])
    out = str(tmp_path / 'out')
    with caplog.at_level(logging.INFO, logger='mmreviosa.builders.vidor'):
        stats = convert(openai_options(vidor_root, out, base_url), print_table=False)
    assert 'malformed reply: not JSON' in caplog.text
    assert 'timed out' in caplog.text and 'HTTP 500' in caplog.text
    # describe x4 objects, towards decision x1, expressions x3 relations: 8 questions;
    # 3 faults retried; "chase" tried 4 times and skipped.
    assert stats['backend'] == {'requests': 8 + 3 + 3, 'retries': 3 + 3, 'skipped': 1,
                                'cache_hits': 0}
    assert request_count() == 14
    assert 'video 1002: relation 2 chase 1: expressions skipped after 4 tries' in caplog.text

    exps = read_json(out, 'meta_expressions.json')['videos']['1002']['expressions']
    by_text = {e['exp']: e for e in exps.values()}
    assert not any('chas' in text for text in by_text)  # skipped, never guessed
    kick = by_text['the child kicking the ball in the clip']
    assert (kick['obj_id'], kick['target_obj_id']) == ([0], [1])
    inverse = exps[kick['pair_exp_id']]
    assert inverse['exp'] == 'the ball being kicked by the child in the clip'
    assert (inverse['obj_id'], inverse['target_obj_id']) == ([1], [0])
    assert by_text['the dog seen in the clip']['obj_id'] == [2]
    # The backend judged "towards" an interaction and said why.
    towards = [r for r in read_json(out, '_work', '1002', 'stage3.json')['relations']
               if r['predicate'] == 'towards'][0]
    assert towards['is_interaction'] and towards['source'] == 'openai'
    assert towards['reason'] == 'the subject moves to reach the object'
    approach = by_text['the ball moving towards the dog in the clip']
    assert approach['target_obj_id'] == [2] and approach['pair_exp_id'] is not None
    assert stats['spatial_relations_judged_interactions'] == 1


def test_http_replies_are_cached_so_a_rerun_costs_nothing(vidor_root, tmp_path, stub_server):
    base_url, request_count = stub_server()
    out = str(tmp_path / 'out')
    first = convert(openai_options(vidor_root, out, base_url), print_table=False)
    asked = request_count()
    assert asked == first['backend']['requests'] == 8
    shutil.rmtree(osp.join(out, '_work', '1002'))  # force every stage to run again
    second = convert(openai_options(vidor_root, out, base_url), print_table=False)
    assert request_count() == asked
    assert second['backend'] == {'requests': 0, 'retries': 0, 'skipped': 0, 'cache_hits': 8}
    assert len(os.listdir(osp.join(out, '_work', 'llm_cache'))) == 8


def test_http_4xx_is_not_retried(stub_server, tmp_path):
    base_url, request_count = stub_server(faults=['http400'])
    backend = OpenAIChatBackend('stub-model', base_url, timeout=2, backoff=0.01,
                                cache_dir=str(tmp_path))
    assert backend.describe('dog', {'colour': 'red'}, [], 'video v tid 1') is None
    assert request_count() == 1 and backend.counters['skipped'] == 1
    assert backend.describe('dog', {'colour': 'red'}, [], 'video v tid 1') == \
        ['the dog seen in the clip']


def test_unreachable_server_is_a_logged_skip(tmp_path, caplog):
    backend = OpenAIChatBackend('m', 'http://127.0.0.1:9/v1', timeout=0.5, backoff=0.01,
                                max_retries=1)
    with caplog.at_level(logging.WARNING):
        assert backend.decide_interaction('towards', 'the dog', 'the ball',
                                          'video v: relation 1 towards 2') is None
    assert 'video v: relation 1 towards 2: interaction skipped after 2 tries' in caplog.text


# ---------------------------------------------------------------- local causal LM
@pytest.fixture(scope='module')
def tiny_causal_lm(tmp_path_factory):
    """A random 1-layer Qwen2 with the in-process tokenizer, saved to a folder."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM
    from mmreviosa.text import build_tiny_tokenizer
    torch.manual_seed(0)
    tokenizer = build_tiny_tokenizer()
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=1024)
    path = str(tmp_path_factory.mktemp('tiny_lm'))
    Qwen2ForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_hf_backend_generates_text(tiny_causal_lm):
    backend = build_backend('hf', {'model_path': tiny_causal_lm, 'max_new_tokens': 6})
    text = backend.complete([{'role': 'user', 'content': 'Input: {"task": "describe"}'}])
    assert isinstance(text, str)


def test_hf_backend_skips_malformed_output_without_guessing(vidor_root, tiny_causal_lm,
                                                            tmp_path, caplog):
    out = str(tmp_path / 'out')
    options = ConvertOptions(vidor_root, 'training', out, mask_source='box', backend='hf',
                             llm_config={'model_path': tiny_causal_lm, 'max_new_tokens': 12},
                             video_ids=['1001'])
    with caplog.at_level(logging.WARNING):
        stats = convert(options, print_table=False)
    # A random model writes no valid JSON: 3 describes + 1 spatial decision + 2
    # relations, each tried once (greedy decoding repeats itself), all skipped.
    assert stats['backend'] == {'requests': 6, 'retries': 0, 'skipped': 6, 'cache_hits': 0}
    assert 'video 1001 tid 0: describe skipped after 1 tries (malformed reply' in caplog.text
    assert stats['expressions']['total'] == 0
    assert read_json(out, 'meta_expressions.json') == {'videos': {}}
    # The skipped spatial decision falls back to the rule, with the reason kept.
    stage3 = read_json(out, '_work', '1001', 'stage3.json')
    assert [r['is_interaction'] for r in stage3['relations']] == [True, False]
