"""Every config loads, keeps at most one level of _base_, and the real-scale ones have the
published architecture sizes (built on the meta device, no weights read)."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmreviosa.testing import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True))


def _load_tool(name):
    return load_tool(f'tools/analysis_tools/{name}.py')


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, ROOT))
def test_config_loads_with_one_level_of_base(path):
    cfg = Config.fromfile(path)
    for base in Config._get_base_files(path):
        base_path = osp.join(osp.dirname(path), base)
        assert not Config._get_base_files(base_path), f'{path}: _base_ of a _base_'
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if loader:
            root = loader['dataset']['data_root']
            assert osp.basename(root) in ('train', 'valid', 'test'), (
                f'{path}: {split} data_root {root} must be a split folder')


def test_test_split_can_be_switched_from_the_command_line():
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'reviosa', 'reviosa_tiny_intershapes.py'))
    cfg.merge_from_dict({'test_dataloader.dataset.data_root': 'somewhere/valid'})
    assert cfg.test_dataloader.dataset.data_root == 'somewhere/valid'


@pytest.mark.parametrize('name, mllm, sam2', [
    ('reviosa_1b.py', 938e6, 224.4e6),
    ('reviosa_4b.py', 3.71e9, 224.4e6),
])
def test_real_scale_parameter_counts_on_meta(name, mllm, sam2):
    count_params = _load_tool('count_params')
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'reviosa', name))
    from mmreviosa.registry import MODELS
    init_default_scope('mmreviosa')
    with torch.device('meta'):
        model = MODELS.build(count_params.meta_model_cfg(cfg))
    adapters = ('lora_', 'trainable_tokens_')
    n_mllm = count_params.count(model.mllm, exclude=adapters)
    n_sam2 = count_params.count(model.sam2_head)
    assert abs(n_mllm - mllm) / mllm < 0.02
    assert abs(n_sam2 - sam2) / sam2 < 0.02
    # The paper's AML layers exist in the LLM, and LoRA stays out of the vision tower.
    num_layers = model.mllm.model.config.text_config.num_hidden_layers
    assert max(model.aml_layers) < num_layers
    assert not any('lora_' in n for n, _ in model.mllm.vision_model.named_parameters())
    assert any('lora_' in n for n, _ in model.mllm.language_model.named_parameters())
