"""Every config loads, keeps at most one level of _base_, and the real-scale ones have the
published architecture sizes (built on the meta device, no weights read)."""
import copy
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


def _learning_rates(param_scheduler, max_iters, work_dir):
    """The learning rate of every iteration, from the schedulers as MMEngine's Runner builds
    them for a loop of ``max_iters`` (a one-parameter model, no data read)."""
    from mmengine.model import BaseModel
    from mmengine.runner import Runner

    class OneWeight(BaseModel):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))

        def forward(self, *args, **kwargs):
            return dict(loss=self.weight.sum())

    runner = Runner(
        model=OneWeight(), work_dir=str(work_dir), experiment_name=osp.basename(work_dir),
        default_scope='mmreviosa',
        train_dataloader=dict(dataset=[0], sampler=dict(type='DefaultSampler'), batch_size=1,
                              collate_fn=dict(type='pseudo_collate')),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=2e-3)),
        param_scheduler=copy.deepcopy(param_scheduler),
        default_hooks=dict(logger=None, checkpoint=None))
    runner._train_loop = runner.build_train_loop(runner._train_loop)
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    schedulers = runner.build_param_scheduler(runner.param_schedulers)
    lrs = []
    for _ in range(max_iters):
        lrs.append(runner.optim_wrapper.param_groups[0]['lr'])
        for scheduler in schedulers:
            scheduler.step()
    return lrs


@pytest.mark.filterwarnings('ignore:Detected call of')  # schedulers stepped without training
def test_the_tiny_schedule_follows_train_cfg_max_iters(tmp_path):
    """One setting: train_cfg.max_iters sets the loop and the end of the cosine schedule; at
    1000 iterations the schedule is the one the published demo numbers were trained with."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'reviosa', 'reviosa_tiny_intershapes.py'))
    cfg.merge_from_dict({'train_cfg.max_iters': 300})
    assert cfg.train_cfg.max_iters == 300
    lrs = _learning_rates(cfg.param_scheduler, cfg.train_cfg.max_iters, tmp_path / 'a')
    assert lrs[0] == pytest.approx(2e-3 * 0.05)
    assert lrs[100] == pytest.approx(2e-3)
    assert lrs[200] == pytest.approx((2e-3 + 1e-5) / 2)   # half-way down the cosine
    assert lrs[-1] == pytest.approx(1e-5, abs=1e-6)        # the bottom at the last iteration

    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'reviosa', 'reviosa_tiny_intershapes.py'))
    published = [dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=100),
                 dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=1000, eta_min=1e-5)]
    assert cfg.train_cfg.max_iters == 1000
    assert _learning_rates(cfg.param_scheduler, 1000, tmp_path / 'b') == _learning_rates(
        published, 1000, tmp_path / 'c')


@pytest.mark.parametrize('path', [p for p in CONFIGS if 'tiny' in p],
                         ids=lambda p: osp.relpath(p, ROOT))
def test_role_mode_reaches_the_model_and_every_pipeline(path):
    """The answers the pipelines tokenise have the model's role tokens (the zero-shot probe
    asks the single-[SEG] model for the target)."""
    cfg = Config.fromfile(path)
    role_mode = cfg.model.role_mode
    assert cfg.get('role_mode', role_mode) == role_mode
    test_modes = {role_mode, 'single_target'} if role_mode == 'single' else {role_mode}
    for split, modes in (('train', {role_mode}), ('val', test_modes), ('test', test_modes)):
        pipeline = cfg[f'{split}_dataloader'].dataset.pipeline
        tokenize = [t for t in pipeline if t.type == 'TokenizeConversation']
        assert len(tokenize) == 1 and tokenize[0].mode in modes, (split, tokenize)
