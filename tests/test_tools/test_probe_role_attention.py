"""tools/analysis_tools/probe_role_attention.py on a generated split and a random tiny model."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmreviosa.builders.intershapes import generate_split
from mmreviosa.testing import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'probe_role_attention.py')
CONFIG = osp.join(REPO, 'configs', 'reviosa', 'reviosa_tiny_intershapes.py')


@pytest.fixture(scope='module')
def split_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('intershapes'))
    generate_split(root, 'valid', num_videos=2, seed=3)
    return osp.join(root, 'valid')


def test_probe_counts_visible_frames_and_chance_from_the_masks(split_root, tmp_path):
    tool = load_tool('tools/analysis_tools/probe_role_attention.py')
    torch.manual_seed(0)
    out = str(tmp_path / 'probe.json')
    tool.main([CONFIG, 'none', '--data-root', split_root, '--num-items', '5',
               '--batch-size', '2', '--out', out])
    with open(out) as f:
        result = json.load(f)
    # Independently: rerun the same items through the pipeline and count from the GT masks.
    from mmreviosa.apis import init_model
    from mmreviosa.registry import DATASETS
    cfg = init_model(CONFIG).cfg
    dataset = DATASETS.build(dict(type='InterRVOSDataset', data_root=split_root,
                                  pipeline=cfg.train_pipeline))
    np.random.seed(0)
    frames = dict(actor=0, target=0)
    touched = dict(actor=0.0, target=0.0)
    for i in range(5):
        sample = dataset[i]['data_samples']
        for role, masks in (('actor', sample.gt_actor_masks), ('target', sample.gt_target_masks)):
            if role == 'target' and not sample.has_interaction:
                continue
            for mask in masks[list(sample.key_frame_inds)].float():
                cells = F.adaptive_avg_pool2d(mask[None], (4, 4)) > 0
                if cells.any():
                    frames[role] += 1
                    touched[role] += float(cells.float().mean())
    num_layers = 3
    for role in ('actor', 'target'):
        assert result[role]['frames'] == frames[role] > 0
        for layer in range(num_layers):
            scores = result[role][str(layer)]
            assert scores['chance'] == pytest.approx(100 * touched[role] / frames[role])
            assert 0 <= scores['share'] <= 100 and 0 <= scores['hit'] <= 100
