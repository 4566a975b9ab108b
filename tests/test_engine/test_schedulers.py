"""The real configs' learning-rate schedule on training sets of any size."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope

from mmreviosa.registry import PARAM_SCHEDULERS

CONFIGS = osp.join(osp.dirname(__file__), '..', '..', 'configs', 'reviosa')


def _lrs(scheduler_cfgs, epoch_length, num_iters):
    """The learning rate of each iteration, stepping every scheduler as MMEngine does."""
    param = torch.nn.Parameter(torch.zeros(1))
    optim = OptimWrapper(torch.optim.SGD([param], lr=1.0))
    schedulers = [PARAM_SCHEDULERS.build(dict(cfg), default_args=dict(
        optimizer=optim, epoch_length=epoch_length)) for cfg in scheduler_cfgs]
    lrs = []
    for _ in range(num_iters):
        lrs.append(optim.param_groups[0]['lr'])
        for scheduler in schedulers:
            scheduler.step()
    return lrs


@pytest.mark.parametrize('name', ['reviosa_1b.py', 'reviosa_4b.py'])
@pytest.mark.parametrize('epoch_length', [1, 7, 19, 20, 1000])
def test_warm_up_of_real_configs_builds_on_small_training_sets(name, epoch_length):
    init_default_scope('mmreviosa')
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    # ceil(0.05 epochs) iterations, and at least the two of a linear ramp
    warm_at = max(2, -(-epoch_length * 5 // 100)) - 1
    lrs = _lrs(cfg.param_scheduler, epoch_length, warm_at + 2)
    assert lrs[0] == pytest.approx(1e-3)  # start_factor
    assert lrs[warm_at] == pytest.approx(1.0, rel=0.05)  # warm; the cosine barely started
    assert all(a < b for a, b in zip(lrs[:warm_at], lrs[1:warm_at + 1]))


def test_mmengine_linear_lr_fails_where_the_warm_up_works():
    """The failures this scheduler exists for: 0.05 epochs of a 19- and a 20-iteration epoch
    (no start at all; a learning rate stuck at start_factor)."""
    init_default_scope('mmreviosa')
    cfg = dict(start_factor=1e-3, by_epoch=True, begin=0, end=0.05, convert_to_iter_based=True)
    with pytest.raises(ValueError, match='end should be larger than begin'):
        _lrs([dict(cfg, type='LinearLR')], 19, 2)
    assert _lrs([dict(cfg, type='LinearLR')], 20, 5) == pytest.approx([1e-3] * 5)
    for epoch_length in (19, 20):
        assert _lrs([dict(cfg, type='WarmupLinearLR')], epoch_length, 3) == pytest.approx(
            [1e-3, 1.0, 1.0])
