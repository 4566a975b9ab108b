"""Pretrained weights and tokenizers are read from local folders only: a missing folder is an
error naming it (and, for InternVL, the converter command), never a hub download."""
import socket

import pytest

from mmreviosa.testing import load_tool

MISSING = 'pretrained/InternVL2_5-1B-hf'  # what the 1B config points to; absent here
CONVERTER = 'python tools/model_converters/internvl2_5_to_hf.py SRC DST'


@pytest.fixture
def no_network(monkeypatch):
    """Record (and refuse) every name lookup and outgoing connection."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError(f'network access in a test: {args}')

    monkeypatch.setattr(socket, 'getaddrinfo', refuse)
    monkeypatch.setattr(socket.socket, 'connect', refuse)
    monkeypatch.setattr(socket.socket, 'connect_ex', refuse)
    return attempts


def test_missing_internvl_folder_names_it_and_the_converter(tmp_path, monkeypatch, no_network):
    from mmreviosa.models.mllm import InternVLMLLM
    monkeypatch.chdir(tmp_path)
    tokenizer = dict(type='build_role_tokenizer', tokenizer=dict(type='build_tiny_tokenizer'))
    with pytest.raises(FileNotFoundError) as info:
        InternVLMLLM(tokenizer=tokenizer, pretrained=MISSING)
    assert MISSING in str(info.value) and CONVERTER in str(info.value)
    assert no_network == []


def test_missing_tokenizer_folder_names_it(tmp_path, monkeypatch, no_network):
    from mmreviosa.text import build_role_tokenizer
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as info:
        build_role_tokenizer(MISSING)
    assert MISSING in str(info.value) and CONVERTER in str(info.value)
    assert no_network == []


def test_an_existing_folder_is_read_with_local_files_only(tmp_path, monkeypatch, no_network):
    """A folder without the files transformers needs fails locally, without a download."""
    import transformers
    calls = []
    original = transformers.AutoTokenizer.from_pretrained

    def spy(path, *args, **kwargs):
        calls.append(kwargs.get('local_files_only'))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(transformers.AutoTokenizer, 'from_pretrained', spy)
    from mmreviosa.text import build_role_tokenizer, build_tiny_tokenizer
    build_tiny_tokenizer().save_pretrained(str(tmp_path / 'tok'))
    assert '[SEG_ACT]' in build_role_tokenizer(str(tmp_path / 'tok')).get_vocab()
    assert calls == [True] and no_network == []


def test_converter_refuses_a_missing_source(tmp_path, no_network):
    converter = load_tool('tools/model_converters/internvl2_5_to_hf.py')
    src = str(tmp_path / 'InternVL2_5-1B')
    with pytest.raises(FileNotFoundError, match='InternVL2_5-1B'):
        converter.convert_checkpoint(src, str(tmp_path / 'out'))
    assert no_network == []
