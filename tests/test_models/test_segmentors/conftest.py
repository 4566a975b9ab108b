"""Shared fixtures of the segmentor tests: the tiny config and a generated InterShapes split."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmreviosa.builders.intershapes import generate_split

CONFIG = osp.join(osp.dirname(__file__), '..', '..', '..', 'configs', 'reviosa',
                  'reviosa_tiny_intershapes.py')


@pytest.fixture(scope='module')
def split_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('intershapes'))
    generate_split(root, 'valid', num_videos=3, seed=1)
    return osp.join(root, 'valid')


@pytest.fixture(scope='module')
def cfg():
    torch.set_num_threads(1)
    init_default_scope('mmreviosa')
    return Config.fromfile(CONFIG)
