"""--llm-config of the VidOR converter is plain JSON or YAML: YAML tags that run code and
pickle files are refused, and nothing in them runs. The hf backend reads local folders only."""
import json
import os.path as osp
import pickle
import socket

import pytest

from mmreviosa.builders.vidor.backends import build_backend, load_llm_config
from mmreviosa.testing import load_tool


class _TouchOnUnpickle:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def _main(tmp_path, config_path):
    tool = load_tool('tools/dataset_converters/vidor_to_interrvos.py')
    return tool.main(['--vidor-root', str(tmp_path / 'vidor'), '--split', 'training',
                      '--out', str(tmp_path / 'out'), '--backend', 'openai',
                      '--llm-config', config_path])


@pytest.mark.parametrize('suffix', ['.yaml', '.yml'])
def test_yaml_that_runs_code_is_refused(tmp_path, capsys, suffix):
    marker = str(tmp_path / 'ran')
    path = str(tmp_path / f'llm{suffix}')
    with open(path, 'w') as f:
        f.write(f'model: m\nbase_url: !!python/object/apply:os.system ["touch {marker}"]\n')
    with pytest.raises(ValueError, match='not plain YAML'):
        load_llm_config(path)
    assert _main(tmp_path, path) == 2
    assert path in capsys.readouterr().err
    assert not osp.exists(marker)


@pytest.mark.parametrize('name', ['llm.pkl', 'llm.pickle', 'llm.json', 'llm.yaml'])
def test_pickle_is_refused_whatever_its_name(tmp_path, name):
    marker = str(tmp_path / 'ran')
    path = str(tmp_path / name)
    with open(path, 'wb') as f:
        pickle.dump({'model': _TouchOnUnpickle(marker)}, f)
    with pytest.raises(ValueError) as info:
        load_llm_config(path)
    assert path in str(info.value)
    assert not osp.exists(marker)


def test_plain_json_and_yaml_are_read(tmp_path):
    settings = {'model': 'm', 'base_url': 'https://example.invalid/v1', 'max_retries': 2}
    json_path, yaml_path = str(tmp_path / 'llm.json'), str(tmp_path / 'llm.yaml')
    with open(json_path, 'w') as f:
        json.dump(settings, f)
    with open(yaml_path, 'w') as f:
        f.write('model: m\nbase_url: https://example.invalid/v1\nmax_retries: 2\n')
    assert load_llm_config(json_path) == settings == load_llm_config(yaml_path)
    with open(json_path, 'w') as f:
        json.dump(['not', 'a', 'mapping'], f)
    with pytest.raises(ValueError, match='mapping'):
        load_llm_config(json_path)


def test_hf_backend_refuses_a_missing_folder_without_a_download(tmp_path, monkeypatch):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError('network access in a test')

    monkeypatch.setattr(socket, 'getaddrinfo', refuse)
    monkeypatch.setattr(socket.socket, 'connect', refuse)
    missing = str(tmp_path / 'Qwen2.5-0.5B-Instruct')
    with pytest.raises(FileNotFoundError, match='Qwen2.5-0.5B-Instruct'):
        build_backend('hf', {'model_path': missing})
    with pytest.raises(FileNotFoundError, match='tokenizer_path'):
        build_backend('hf', {'model_path': str(tmp_path), 'tokenizer_path': missing})
    assert attempts == []
