"""tools/test.py with bf16 weights in the tiny config, with and without --amp (MMEngine's
test loop runs without autocast: bf16 hidden states meet float32 trained modules)."""
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
from mmreviosa.registry import MODELS
from mmreviosa.testing import REPO_ROOT

TINY = osp.join(REPO_ROOT, 'configs', 'reviosa', 'reviosa_tiny_intershapes.py')
# The real recipe's frozen parts, whose weights bf16 then holds (trained ones stay float32).
FROZEN = dict(model=dict(mllm=dict(freeze_vision_encoder=True, freeze_llm=True),
                         sam2_head=dict(freeze_image_encoder=True)))
BF16 = ['model.mllm.torch_dtype=bfloat16', 'model.sam2_head.image_encoder_dtype=bfloat16',
        'model.mllm.freeze_vision_encoder=True', 'model.mllm.freeze_llm=True',
        'model.sam2_head.freeze_image_encoder=True']


@pytest.mark.slow
@pytest.mark.parametrize('amp', [False, True])
def test_tools_test_with_bf16_weights(tmp_path, amp):
    init_default_scope('mmreviosa')
    torch.manual_seed(0)
    cfg = Config.fromfile(TINY)
    cfg.merge_from_dict(FROZEN)
    model = MODELS.build(cfg.model)
    checkpoint = str(tmp_path / 'float32.pth')
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    generate_split(str(tmp_path), 'test', num_videos=2, seed=5, progress=False)
    work_dir = str(tmp_path / 'work')
    result = subprocess.run(
        [sys.executable, 'tools/test.py', TINY, checkpoint, '--work-dir', work_dir,
         *(['--amp'] if amp else []), '--cfg-options', *BF16,
         f'test_dataloader.dataset.data_root={tmp_path}/test', 'test_dataloader.num_workers=0'],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS='1', MMREVIOSA_NUM_THREADS='1'))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    with open(osp.join(work_dir, 'metrics.json')) as f:
        metrics = json.load(f)
    assert 0 <= metrics['interrvos/interaction_acc'] <= 100
