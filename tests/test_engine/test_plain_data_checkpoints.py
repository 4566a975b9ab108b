"""Checkpoints are read as plain data: crafted files run nothing, our own files all load, and
importing mmreviosa leaves MMEngine's loader alone."""
import os
import os.path as osp
import pickle
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner import Runner
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint, load_from_local
from torch._tensor import _rebuild_from_type_v2

from mmreviosa.builders.intershapes import generate_split
from mmreviosa.engine.checkpoint import (CorruptCheckpointError, UnsafeCheckpointError,
                                         load_local_checkpoint, plain_data_checkpoints)
from mmreviosa.testing import REPO_ROOT

TOY = osp.join(REPO_ROOT, 'tests', 'data', 'configs', 'toy_intershapes.py')


# ------------------------------------------------------------------ crafted checkpoints
class _Call:
    """Pickles as ``fn(*args)``: how a crafted checkpoint makes the unpickler call things."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


class MarkerOnUnpickle:
    """A class outside the allowlist whose unpickling has a side effect (writes a file)."""

    def __init__(self, marker):
        self.marker = marker

    def __setstate__(self, state):
        open(state['marker'], 'w').close()


class _BuildWith:
    """Pickles as ``cls()`` followed by ``__setstate__(state)``."""

    def __init__(self, cls, state):
        self.cls, self.state = cls, state

    def __reduce__(self):
        return self.cls, (), self.state


def _getattr(obj, name):
    return _Call(getattr, obj, name)


def _exec_through_getattr(code: str):
    """getattr from an allowlisted class to ``exec``: function globals -> builtins -> exec.

    ``_rebuild_from_type_v2`` (allowlisted by torch itself) calls the function it is
    given before it checks anything, so any callable reached through getattr runs.
    """
    module_globals = _getattr(_getattr(HistoryBuffer, '__init__'), '__globals__')
    builtins_dict = _Call(_rebuild_from_type_v2, _getattr(module_globals, 'get'),
                          _getattr(module_globals, '__class__'), ('__builtins__',), None)
    exec_fn = _Call(_rebuild_from_type_v2, _getattr(builtins_dict, 'get'),
                    _getattr(_getattr(builtins_dict, 'get'), '__class__'), ('exec',), None)
    return _Call(_rebuild_from_type_v2, exec_fn, _getattr(None, '__class__'), (code,), None)


def _crafted(kind: str, marker: str):
    """The payload of a crafted checkpoint that creates ``marker`` if it runs."""
    touch = f'open({marker!r}, "w").close()'
    if kind == 'getattr_to_exec':
        return _exec_through_getattr(touch)
    if kind == 'getattr_to_os_system':
        return _exec_through_getattr(f'__import__("os").system("touch {marker}")')
    if kind == 'getattr_on_an_allowed_class':  # np.ndarray.tofile writes a file
        tofile = _getattr(np.ndarray, 'tofile')
        return _Call(_rebuild_from_type_v2, tofile, _getattr(None, '__class__'),
                     (np.zeros(1), marker), None)
    if kind == 'reduce_os_system':
        return _Call(os.system, f'touch {marker}')
    if kind == 'reduce_exec':
        return _Call(exec, touch)
    if kind == 'reduce_subprocess':
        return _Call(subprocess.call, ['touch', marker])
    if kind == 'class_outside_the_allowlist':
        return MarkerOnUnpickle(marker)
    raise KeyError(kind)


CRAFTED = ['getattr_to_exec', 'getattr_to_os_system', 'getattr_on_an_allowed_class',
           'reduce_os_system', 'reduce_exec', 'reduce_subprocess', 'class_outside_the_allowlist']


def _write_crafted(tmp_path, kind):
    marker = str(tmp_path / f'{kind}.ran')
    path = str(tmp_path / f'{kind}.pth')
    # Inside a normal-looking training checkpoint.
    torch.save(dict(state_dict={'w': torch.ones(2)}, meta=dict(payload=_crafted(kind, marker))),
               path)
    return path, marker


def _load_through_mmengine(path):
    """What Runner.load_checkpoint / resume / init_model do inside our entry points."""
    with plain_data_checkpoints():
        return _load_checkpoint(path, map_location='cpu')


@pytest.mark.parametrize('load', [load_local_checkpoint, _load_through_mmengine],
                         ids=['load_local_checkpoint', 'mmengine_runner_route'])
@pytest.mark.parametrize('kind', CRAFTED)
def test_crafted_checkpoints_are_refused_and_run_nothing(tmp_path, kind, load):
    path, marker = _write_crafted(tmp_path, kind)
    with pytest.raises(UnsafeCheckpointError) as info:
        load(path)
    assert not osp.exists(marker), 'the checkpoint ran code'
    message = str(info.value)
    assert path in message and 'weights_only=False' not in message


def test_refusal_names_what_was_asked_for(tmp_path):
    path, _ = _write_crafted(tmp_path, 'getattr_to_exec')
    with pytest.raises(UnsafeCheckpointError, match=r"getattr\(HistoryBuffer, '__init__'\)"):
        load_local_checkpoint(path)
    path, _ = _write_crafted(tmp_path, 'reduce_os_system')
    with pytest.raises(UnsafeCheckpointError, match=r'posix\.system|os\.system'):
        load_local_checkpoint(path)


def test_a_checkpoint_cannot_rewrite_the_history_buffer_statistics(tmp_path):
    """HistoryBuffer.__setstate__ writes into a class-level registry: a load must not change
    how every buffer of the process computes 'mean'."""
    state = dict(max_length=10, _log_history=np.array([1.0, 3.0]),
                 _count_history=np.array([1, 1]), statistics_methods={'mean': set})
    path = str(tmp_path / 'hub.pth')
    torch.save(dict(buffer=_BuildWith(HistoryBuffer, state)), path)
    loaded = load_local_checkpoint(path)['buffer']
    assert HistoryBuffer._statistics_methods['mean'] is HistoryBuffer.mean
    assert loaded.statistics('mean') == 2.0


# ------------------------------------------------------------------ truncated / empty files
def test_empty_checkpoint_names_the_file(tmp_path):
    path = str(tmp_path / 'iter_2.pth')
    open(path, 'wb').close()
    with pytest.raises(CorruptCheckpointError, match='0 bytes') as info:
        _load_through_mmengine(path)
    assert path in str(info.value) and 'weights_only' not in str(info.value)


# ------------------------------------------------------------------ what our tools write
@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """Two iterations of the toy config through MMEngine's Runner: a real training checkpoint
    (state_dict, meta, message_hub, optimizer, two param_schedulers)."""
    root = str(tmp_path_factory.mktemp('toy_data'))
    generate_split(root, 'train', num_videos=2, seed=3, progress=False)
    work_dir = str(tmp_path_factory.mktemp('train'))
    cfg = _toy_cfg(root, work_dir, max_iters=2)
    Runner.from_cfg(cfg).train()
    return root, work_dir


def _toy_cfg(root, work_dir, max_iters):
    torch.set_num_threads(1)
    cfg = Config.fromfile(TOY)
    cfg.work_dir = work_dir
    cfg.train_dataloader.dataset.data_root = f'{root}/train'
    cfg.train_cfg.max_iters = max_iters
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=1),
        dict(type='CosineAnnealingLR', by_epoch=False, begin=1, end=4)]
    cfg.experiment_name = f'toy_{max_iters}'
    for key in ('test_dataloader', 'test_evaluator', 'test_cfg'):
        cfg.pop(key)
    return cfg


def test_training_checkpoint_loads_as_plain_data(trained):
    _, work_dir = trained
    path = osp.join(work_dir, 'iter_2.pth')
    checkpoint = load_local_checkpoint(path)
    assert {'meta', 'state_dict', 'message_hub', 'optimizer', 'param_schedulers'} <= set(
        checkpoint)
    assert len(checkpoint['param_schedulers']) == 2
    loss = checkpoint['message_hub']['log_scalars']['train/loss']
    assert isinstance(loss, HistoryBuffer) and np.isfinite(loss.statistics('mean'))
    # Stock torch refuses the same file: this is why the loader exists.
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(path, weights_only=True)


def test_resume_from_a_training_checkpoint(trained):
    root, work_dir = trained
    resumed_dir = osp.join(work_dir, 'resumed')
    os.makedirs(resumed_dir)
    shutil.copy(osp.join(work_dir, 'iter_2.pth'), resumed_dir)
    cfg = _toy_cfg(root, resumed_dir, max_iters=4)
    cfg.resume = True  # 'auto': finds iter_2.pth through MMEngine's last_checkpoint logic
    cfg.load_from = osp.join(resumed_dir, 'iter_2.pth')
    runner = Runner.from_cfg(cfg)
    with plain_data_checkpoints():
        runner.train()
    assert runner.iter == 4
    # The scheduler state came back: the cosine phase continued from iteration 2.
    assert osp.exists(osp.join(resumed_dir, 'iter_4.pth'))
    assert load_local_checkpoint(osp.join(resumed_dir, 'iter_4.pth'))['meta']['iter'] == 4


def test_truncated_training_checkpoint_names_the_file(trained, tmp_path):
    _, work_dir = trained
    with open(osp.join(work_dir, 'iter_2.pth'), 'rb') as f:
        data = f.read()
    for size in (len(data) // 2, len(data) - 1):
        path = str(tmp_path / f'cut_{size}.pth')
        with open(path, 'wb') as f:
            f.write(data[:size])
        with pytest.raises(CorruptCheckpointError, match='truncated or corrupt') as info:
            _load_through_mmengine(path)
        assert path in str(info.value) and 'weights_only' not in str(info.value)


def test_init_model_refuses_crafted_and_truncated_checkpoints(trained, tmp_path):
    from mmreviosa.apis import init_model
    path, marker = _write_crafted(tmp_path, 'getattr_to_exec')
    with pytest.raises(UnsafeCheckpointError):
        init_model(TOY, path)
    assert not osp.exists(marker)
    _, work_dir = trained
    model = init_model(TOY, osp.join(work_dir, 'iter_2.pth'))
    assert not model.training


# ------------------------------------------------------------------ no import-time side effect
def test_importing_mmreviosa_leaves_mmengine_loader_unchanged(tmp_path):
    path, marker = _write_crafted(tmp_path, 'getattr_to_exec')
    code = textwrap.dedent(f"""
        import pickle, torch
        import mmengine.runner.checkpoint as ck
        before = dict(ck.CheckpointLoader._schemes)
        import mmreviosa, mmreviosa.apis, mmreviosa.engine
        from mmreviosa.utils import register_all_modules
        register_all_modules()
        assert dict(ck.CheckpointLoader._schemes) == before
        assert ck.CheckpointLoader._schemes[''] is ck.load_from_local
        # torch allowlists some of its own classes; nothing of ours, numpy's or getattr.
        from torch._weights_only_unpickler import _get_user_allowed_globals
        names = set(_get_user_allowed_globals())
        assert 'builtins.getattr' not in names, names
        assert not [n for n in names if n.startswith(('mmengine', 'mmreviosa', 'numpy'))]
        try:
            ck._load_checkpoint({path!r})
        except pickle.UnpicklingError:
            print('refused by stock torch')
    """)
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            cwd=REPO_ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'refused by stock torch' in result.stdout
    assert not osp.exists(marker)


def test_plain_data_checkpoints_restores_the_previous_loader():
    assert CheckpointLoader._schemes[''] is load_from_local
    with plain_data_checkpoints():
        assert CheckpointLoader._schemes[''] is not load_from_local
        with plain_data_checkpoints():
            pass
        assert CheckpointLoader._schemes[''] is not load_from_local
    assert CheckpointLoader._schemes[''] is load_from_local
    with pytest.raises(ValueError):
        with plain_data_checkpoints():
            raise ValueError('an error inside the block')
    assert CheckpointLoader._schemes[''] is load_from_local
