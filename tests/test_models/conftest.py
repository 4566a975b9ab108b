"""Fixtures shared by the model tests: a generated InterShapes split."""
import os.path as osp

import pytest


@pytest.fixture(scope='module')
def split_root(tmp_path_factory):
    """A generated InterShapes ``valid`` split of three videos (seed 1)."""
    from mmreviosa.builders.intershapes import generate_split
    root = str(tmp_path_factory.mktemp('intershapes'))
    generate_split(root, 'valid', num_videos=3, seed=1)
    return osp.join(root, 'valid')
