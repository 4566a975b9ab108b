"""CheckContextLength in the tiny config's pipelines: an item longer than the MLLM's positions
is an error naming the file, video and expression, or a logged skip in training."""
import os.path as osp
import sys

import pytest
from mmengine.config import Config

DATA_DIR = osp.abspath(osp.join(osp.dirname(__file__), '..', '..', 'data'))
sys.path.insert(0, DATA_DIR)
from interrvos_fixtures import INTERRVOS_SPEC, write_split  # noqa: E402

from mmreviosa.datasets import interrvos  # noqa: E402
from mmreviosa.datasets.interrvos import InterRVOSDataset  # noqa: E402
from mmreviosa.fileio import InvalidAnnotationError  # noqa: E402
from mmreviosa.testing import REPO_ROOT  # noqa: E402

CONFIG = osp.join(REPO_ROOT, 'configs', 'reviosa', 'reviosa_tiny_intershapes.py')
LONG = 'the red square pushing the blue box ' * 100  # ~700 tokens; the tiny LLM has 512


@pytest.fixture(scope='module')
def cfg():
    return Config.fromfile(CONFIG)


@pytest.fixture
def split(tmp_path):
    spec = {'vid_a': INTERRVOS_SPEC['vid_a']}
    spec['vid_a']['expressions'] = dict(spec['vid_a']['expressions'])
    spec['vid_a']['expressions']['1'] = dict(spec['vid_a']['expressions']['1'], exp=LONG)
    root = str(tmp_path / 'valid')
    write_split(root, spec)
    return root


def _index(dataset, exp_id):
    return next(i for i in range(len(dataset)) if dataset.get_data_info(i)['exp_id'] == exp_id)


@pytest.mark.parametrize('pipeline', ['train_pipeline', 'test_pipeline'])
def test_too_long_item_names_file_video_expression_and_counts(cfg, split, pipeline):
    dataset = InterRVOSDataset(split, pipeline=cfg[pipeline], test_mode=pipeline == 'test_pipeline',
                               skip_invalid=pipeline == 'test_pipeline')  # no skip in test mode
    assert dataset[_index(dataset, '0')]['inputs']['input_ids'].numel() < 512
    with pytest.raises(InvalidAnnotationError) as info:
        dataset[_index(dataset, '1')]
    message = str(info.value)
    assert message.startswith(f'{osp.join(split, "meta_expressions.json")}: video vid_a '
                              f'expression 1: ')
    assert 'more than the 512 positions of the MLLM' in message
    tokens = int(message.split(' tokens')[0].rsplit(' ', 1)[1])
    assert tokens > 600


def test_skip_invalid_in_training_logs_the_item_and_draws_another(cfg, split, monkeypatch):
    logged = []
    monkeypatch.setattr(interrvos, 'print_log', lambda msg, **kwargs: logged.append(msg))
    dataset = InterRVOSDataset(split, pipeline=cfg.train_pipeline, skip_invalid=True)
    for _ in range(3):
        item = dataset[_index(dataset, '1')]
        assert item['data_samples'].exp_id != '1'
    # at least once per call (the item drawn instead may be the same one again)
    assert sum('Skipped video vid_a expression 1:' in m and '512 positions' in m
               for m in logged) >= 3


def test_a_packed_item_too_long_names_its_expressions_and_says_to_pack_fewer():
    from mmreviosa.datasets.transforms import CheckContextLength
    results = dict(input_ids=list(range(10)), video_id='v', exp_id='0,3',
                   turns=[dict(exp_id='0', expression='the red star'),
                          dict(exp_id='3', expression='a square')])
    with pytest.raises(InvalidAnnotationError) as info:
        CheckContextLength(max_length=8)(results)
    message = str(info.value)
    assert message.startswith('video v expression 0,3: 10 tokens, more than the 8 positions')
    assert 'the 2 packed expressions have 5 words: pack fewer' in message
