"""tools/test.py reads what every training config writes: the DDP / FSDP-full file and
DeepSpeed's checkpoint folder (written here by DeepSpeed itself, ZeRO-2 on the CPU)."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmreviosa.builders.intershapes import generate_split
from mmreviosa.engine import load_trained_checkpoint, read_trained_state_dict
from mmreviosa.registry import MODELS
from mmreviosa.testing.tiny import intershapes_batch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = osp.join(ROOT, 'configs', 'reviosa', 'reviosa_tiny_intershapes.py')


@pytest.fixture(scope='module')
def split_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('intershapes'))
    generate_split(root, 'test', num_videos=2, seed=5, progress=False)
    return osp.join(root, 'test')


def test_fsdp_config_writes_one_full_file():
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'reviosa', 'reviosa_4b_fsdp.py'))
    assert cfg.strategy.state_dict_cfg == 'full'


def test_fsdp_shards_and_unknown_folders_are_refused_with_what_to_do(tmp_path):
    shards = tmp_path / 'epoch_1.pth'
    shards.mkdir()
    torch.save({'state_dict': {}}, shards / 'rank0.pth')
    with pytest.raises(ValueError, match='state_dict_cfg="full"'):
        read_trained_state_dict(str(shards))
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(ValueError, match='not a DeepSpeed checkpoint'):
        read_trained_state_dict(str(empty))
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        read_trained_state_dict(str(tmp_path / 'missing.pth'))


def _deepspeed_zero2_checkpoint(model, batch, folder):
    """One ZeRO-2 bf16 step and a checkpoint, as MMEngine's DeepSpeedStrategy does them."""
    deepspeed = pytest.importorskip('deepspeed')
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT='29561', RANK='0', WORLD_SIZE='1',
                      LOCAL_RANK='0')
    if not dist.is_initialized():
        dist.init_process_group('gloo', rank=0, world_size=1)
    zero2 = Config.fromfile(osp.join(ROOT, 'configs', 'reviosa', 'reviosa_1b_zero2.py')).strategy
    ds_config = dict(train_micro_batch_size_per_gpu=1, gradient_accumulation_steps=1,
                     zero_optimization=dict(zero2.zero_optimization), bf16=dict(enabled=True),
                     optimizer=dict(type='AdamW', params=dict(lr=1e-3)))
    trained = [p for p in model.parameters() if p.requires_grad]
    try:
        engine, *_ = deepspeed.initialize(model=model, model_parameters=trained,
                                          config=ds_config, dist_init_required=False)
        losses = engine(**engine.module.data_preprocessor(batch, True), mode='loss')
        engine.backward(sum(losses.values()))
        engine.step()
        # MMEngine's DeepSpeedStrategy.save_checkpoint, with save_optimizer=True
        engine.save_checkpoint(osp.dirname(folder), tag=osp.basename(folder),
                               client_state=dict(meta=dict(epoch=1)), save_latest=False,
                               exclude_frozen_parameters=None)  # MMEngine's default
    finally:
        dist.destroy_process_group()
    return engine.module


@pytest.mark.slow
def test_deepspeed_zero2_folder_loads_and_tests(split_root, tmp_path):
    init_default_scope('mmreviosa')
    cfg = Config.fromfile(TINY)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    batch = intershapes_batch(cfg, split_root)
    folder = str(tmp_path / 'epoch_1.pth')
    trained = _deepspeed_zero2_checkpoint(model, batch, folder)
    assert osp.isdir(folder) and osp.isfile(osp.join(folder, 'mp_rank_00_model_states.pt'))

    torch.manual_seed(1)  # other random weights, to see the loaded ones replace them
    fresh = MODELS.build(cfg.model)
    load_trained_checkpoint(fresh, folder, strict=True)
    expected = trained.state_dict()
    loaded = fresh.state_dict()
    assert loaded.keys() == expected.keys()
    for key, value in expected.items():
        if not isinstance(value, torch.Tensor):  # plain-data extra state
            assert loaded[key] == value, key
            continue
        # DeepSpeed keeps bf16 weights; they load into the model's own dtypes
        assert torch.equal(loaded[key], value.to(loaded[key].dtype)), key
    assert all(v.dtype != torch.bfloat16 for v in loaded.values()
               if isinstance(v, torch.Tensor))

    work_dir = str(tmp_path / 'test')
    result = subprocess.run(
        [sys.executable, 'tools/test.py', TINY, folder, '--work-dir', work_dir, '--cfg-options',
         f'test_dataloader.dataset.data_root={split_root}', 'test_dataloader.num_workers=0'],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS='1', MMREVIOSA_NUM_THREADS='1'))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    with open(osp.join(work_dir, 'metrics.json')) as f:
        assert 'interrvos/actor_JF' in json.load(f)
