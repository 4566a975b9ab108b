"""FiniteLossHook: a diverging run stops at the first non-finite loss or weight, naming the
iteration and the losses, and keeps the last finite checkpoint."""
import os
import os.path as osp
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MessageHub
from torch import nn

from mmreviosa.builders.intershapes import generate_split
from mmreviosa.engine.hooks import FiniteLossHook, NonFiniteTrainingError
from mmreviosa.testing import REPO_ROOT

CONFIGS = {'aml': 'configs/reviosa/reviosa_tiny_intershapes.py',
           'no_aml': 'configs/reviosa/ablation/reviosa_tiny_role_tokens.py'}
ENV = dict(os.environ, MMREVIOSA_NUM_THREADS='1', OMP_NUM_THREADS='1')


def _runner(iteration=4, weight=1.0):
    model = nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.fill_(weight)
    return SimpleNamespace(iter=iteration, model=model,
                           message_hub=MessageHub.get_instance('finite_loss_hook_test'))


def test_finite_iteration_passes_and_non_finite_losses_are_named():
    hook = FiniteLossHook()
    finite = dict(loss=torch.tensor(2.0), loss_a=torch.tensor(1.5), loss_b=torch.tensor(0.5))
    hook.after_train_iter(_runner(), 4, outputs=finite)
    outputs = dict(loss=torch.tensor(float('nan')), loss_a=torch.tensor(1.5),
                   loss_b=torch.tensor(float('inf')), acc=torch.tensor(float('nan')))
    with pytest.raises(NonFiniteTrainingError, match=r'iteration 5: non-finite loss, loss_b '
                                                     r'\(loss=nan, loss_a=1.5, loss_b=inf\)'):
        hook.after_train_iter(_runner(), 4, outputs=outputs)


def test_non_finite_weights_after_the_update_are_named():
    """The loss of an iteration can be finite while its update overflows the weights."""
    hook = FiniteLossHook()
    with pytest.raises(NonFiniteTrainingError, match=r'iteration 3: .*non-finite weights .*'
                                                     r'weight'):
        hook.after_train_iter(_runner(2, weight=float('inf')), 2,
                              outputs=dict(loss=torch.tensor(1.0)))


def test_runs_before_the_checkpoint_hook():
    from mmengine.hooks import CheckpointHook, LoggerHook
    from mmengine.runner.priority import get_priority
    assert get_priority(FiniteLossHook.priority) < get_priority(CheckpointHook.priority)
    assert get_priority(FiniteLossHook.priority) < get_priority(LoggerHook.priority)


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('diverge'))
    generate_split(root, 'train', num_videos=4, seed=3, progress=False)
    return osp.join(root, 'train')


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_diverging_run_stops_and_keeps_the_last_finite_checkpoint(data_root, tmp_path, name):
    """lr x 1e13 after iteration 4 (with the AML, the attention turns NaN; without, every loss
    would be NaN): the run fails naming the iteration and the losses; the checkpoint of
    iteration 4 survives max_keep_ckpts=1 and holds finite weights."""
    from mmreviosa.engine.checkpoint import load_local_checkpoint
    config = tmp_path / 'diverging.py'
    config.write_text(f"_base_ = ['{osp.join(REPO_ROOT, CONFIGS[name])}']\n"
                      "param_scheduler = [dict(type='MultiStepLR', by_epoch=False, "
                      "milestones=[4], gamma=1e13)]\n")
    work_dir = str(tmp_path / 'work')
    result = subprocess.run(
        [sys.executable, 'tools/train.py', str(config), '--work-dir', work_dir,
         '--cfg-options', f'train_dataloader.dataset.data_root={data_root}',
         'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
         'train_dataloader.persistent_workers=False', 'train_cfg.max_iters=12',
         'default_hooks.checkpoint.interval=2', 'default_hooks.checkpoint.max_keep_ckpts=1',
         'val_dataloader=None', 'val_cfg=None', 'val_evaluator=None'],
        cwd=REPO_ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert result.returncode != 0, result.stdout[-2000:]
    assert 'all elements of input should be between 0 and 1' not in result.stderr
    found = re.search(r'NonFiniteTrainingError: training stopped at iteration (\d+): '
                      r'non-finite (\S.*)', result.stderr)
    assert found, result.stderr[-3000:]
    stopped = int(found.group(1))
    assert stopped > 4
    assert found.group(2).startswith(('loss', 'weights')), found.group(0)
    saved = sorted(f for f in os.listdir(work_dir) if f.endswith('.pth'))
    last = max(int(f[5:-4]) for f in saved)
    assert 4 <= last < stopped
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read().strip().endswith(f'iter_{last}.pth')
    state = load_local_checkpoint(osp.join(work_dir, f'iter_{last}.pth'))['state_dict']
    assert all(torch.isfinite(v).all() for v in state.values()
               if isinstance(v, torch.Tensor) and v.is_floating_point())
