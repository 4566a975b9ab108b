"""tools/train.py, tools/test.py and the dist_* launchers, run as a user runs them."""
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch

from mmreviosa.builders.intershapes import generate_split

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY = osp.join(ROOT, 'tests', 'data', 'configs', 'toy_intershapes.py')
TINY = osp.join(ROOT, 'configs', 'reviosa', 'reviosa_tiny_intershapes.py')
GT_NOISE = osp.join(ROOT, 'tests', 'data', 'configs', 'gt_noise_intershapes.py')
# PYTHON: the launchers run this interpreter (the venv's), not whatever `python` is on PATH.
ENV = dict(os.environ, MMREVIOSA_NUM_THREADS='1', OMP_NUM_THREADS='1', PYTHONHASHSEED='0',
           PYTHON=sys.executable)


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toy_data'))
    generate_split(root, 'train', num_videos=4, seed=3, progress=False)
    generate_split(root, 'test', num_videos=3, seed=4, progress=False)
    return root


def _options(data_root, *extra):
    return ['--cfg-options', f'train_dataloader.dataset.data_root={data_root}/train',
            f'test_dataloader.dataset.data_root={data_root}/test', *extra]


def _run(args, **kwargs):
    result = subprocess.run(args, cwd=ROOT, env=ENV, capture_output=True, text=True,
                            timeout=600, **kwargs)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def _weights(path):
    from mmreviosa.engine.checkpoint import load_local_checkpoint
    return load_local_checkpoint(path)['state_dict']


@pytest.mark.slow
def test_killed_run_resumes_to_the_weights_of_an_uninterrupted_run(data_root, tmp_path):
    train = [sys.executable, 'tools/train.py', TOY]
    full_dir, killed_dir = str(tmp_path / 'full'), str(tmp_path / 'killed')
    _run(train + ['--work-dir', full_dir] + _options(data_root))

    # Start the same run slowed down, kill it (SIGKILL) once a checkpoint exists.
    slow = _options(data_root, 'model.step_delay=0.5')
    proc = subprocess.Popen(train + ['--work-dir', killed_dir] + slow, cwd=ROOT, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not osp.exists(osp.join(killed_dir, 'iter_4.pth')) and time.time() < deadline:
        assert proc.poll() is None, 'the run ended before it could be killed'
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not osp.exists(osp.join(killed_dir, 'iter_12.pth'))

    # Resuming needs no environment variable (torch >= 2.6 weights_only default).
    env_keys = [k for k in ENV if 'WEIGHTS_ONLY' in k]
    assert not env_keys
    _run(train + ['--work-dir', killed_dir, '--resume'] + _options(data_root))
    full, resumed = _weights(osp.join(full_dir, 'iter_12.pth')), _weights(
        osp.join(killed_dir, 'iter_12.pth'))
    assert full.keys() == resumed.keys()
    for key in full:
        assert torch.equal(full[key], resumed[key]), key


@pytest.mark.slow
def test_dist_train_with_two_cpu_processes(data_root, tmp_path):
    work_dir = str(tmp_path / 'dist')
    _run(['bash', 'tools/dist_train.sh', TOY, '2', '--work-dir', work_dir] +
         _options(data_root, 'train_cfg.max_iters=4', 'param_scheduler.0.end=4'),
         )
    assert osp.exists(osp.join(work_dir, 'iter_4.pth'))
    logs = [osp.join(dp, f) for dp, _, fs in os.walk(work_dir) for f in fs if f.endswith('.log')]
    text = open(logs[0]).read()
    assert 'gloo' in text or 'world_size: 2' in text or 'Distributed launcher: pytorch' in text


@pytest.mark.slow
def test_dist_train_of_packed_items_with_two_cpu_processes(data_root, tmp_path):
    """The tiny ReVIOSa with several expressions per item under DDP (gloo), two iterations:
    the state dict broadcast at start holds only tensors (the checkpoint facts were a dict,
    which stopped every distributed run of ReVIOSa), and every trained parameter gets a
    gradient (DDP's second forward fails otherwise)."""
    work_dir = str(tmp_path / 'dist_packed')
    _run(['bash', 'tools/dist_train.sh', TINY, '2', '--work-dir', work_dir, '--no-validate'] +
         _options(data_root, 'train_cfg.max_iters=2', 'train_dataloader.batch_size=2',
                  'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
                  'train_dataloader.dataset.expressions_per_item=3',
                  'param_scheduler.0.end=1', 'param_scheduler.1.begin=1',
                  'default_hooks.logger.interval=1'))
    assert osp.exists(osp.join(work_dir, 'iter_2.pth'))
    logs = [osp.join(dp, f) for dp, _, fs in os.walk(work_dir) for f in fs if f.endswith('.log')]
    text = open(logs[0]).read()
    assert 'Iter(train) [2/2]' in text and 'loss_aml' in text


@pytest.mark.slow
def test_dist_test_two_processes_equals_one(data_root, tmp_path):
    """The metric and its gathering: 2 gloo processes give exactly the 1-process metrics."""
    opts = _options(data_root)
    one, two = str(tmp_path / 'one'), str(tmp_path / 'two')
    checkpoint = str(tmp_path / 'none.pth')
    torch.save(dict(state_dict={'scale': torch.zeros(())}), checkpoint)
    _run([sys.executable, 'tools/test.py', GT_NOISE, checkpoint, '--work-dir', one] + opts)
    _run(['bash', 'tools/dist_test.sh', GT_NOISE, checkpoint, '2', '--work-dir', two] + opts)
    with open(osp.join(one, 'metrics.json')) as f:
        metrics_one = json.load(f)
    with open(osp.join(two, 'metrics.json')) as f:
        metrics_two = json.load(f)
    assert set(metrics_one) >= {f'interrvos/{k}' for k in (
        'actor_J', 'actor_F', 'actor_JF', 'target_J', 'target_F', 'target_JF', 'rvos_J',
        'rvos_F', 'rvos_JF', 'interaction_acc', 'role_swap_consistency')}
    assert metrics_one == metrics_two
    # Noisy GT masks score well below 100 but far above 0: the metric saw real predictions.
    assert 20 < metrics_one['interrvos/actor_J'] < 100
