"""Shared fixtures of the segmentor tests: the tiny config (the split is in ../conftest.py)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

CONFIG = osp.join(osp.dirname(__file__), '..', '..', '..', 'configs', 'reviosa',
                  'reviosa_tiny_intershapes.py')


@pytest.fixture(scope='module')
def cfg():
    torch.set_num_threads(1)
    init_default_scope('mmreviosa')
    return Config.fromfile(CONFIG)
