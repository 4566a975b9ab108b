"""The real ReVIOSa-1B config end to end, as a user runs it, on random weights written in
the published layouts at the real widths (fewer layers): the InternVL-2.5 converter,
tools/train.py, tools/test.py (bf16 weights, no autocast) and the exporter."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from mmreviosa.testing import REPO_ROOT
from mmreviosa.testing.published_layouts import (write_internvl2_5_remote_checkpoint,
                                                 write_sam2_checkpoint)

sys.path.insert(0, osp.join(REPO_ROOT, 'tests', 'data'))
from interrvos_fixtures import INTERRVOS_SPEC, write_split  # noqa: E402

LLM_LAYERS, VISION_LAYERS = 4, 2
# What a CPU needs and nothing else: MMEngine's AmpOptimWrapper asserts a GPU (the same
# AdamW, clipping and schedule otherwise), the AML on layers that exist at this depth,
# no worker processes, one item per step, and every step an optimizer step.
CPU_CONFIG = f'''
_base_ = ['{REPO_ROOT}/configs/reviosa/reviosa_1b.py']
model = dict(aml_layers=[1, 2, 3])
optim_wrapper = dict(_delete_=True, type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=4e-5, betas=(0.9, 0.999), weight_decay=0.05),
                     clip_grad=dict(max_norm=1.0))
train_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False)
val_dataloader = dict(num_workers=0)
test_dataloader = dict(num_workers=0)
train_cfg = dict(max_epochs=1)
'''
ENV = dict(os.environ, OMP_NUM_THREADS='2', MMREVIOSA_NUM_THREADS='2', HF_HUB_OFFLINE='1')


def _run(args, cwd, timeout=900):
    result = subprocess.run([sys.executable, *args], cwd=cwd, env=ENV, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.mark.slow
def test_real_1b_config_converts_trains_tests_and_exports(tmp_path):
    # The user's folder: pretrained weights and data where the config expects them.
    work = str(tmp_path)
    pretrained = osp.join(work, 'pretrained')
    published = write_internvl2_5_remote_checkpoint(
        osp.join(pretrained, 'InternVL2_5-1B'), '1b', llm_layers=LLM_LAYERS,
        vision_layers=VISION_LAYERS)
    write_sam2_checkpoint(osp.join(pretrained, 'sam2.1_hiera_large.pt'))
    video = INTERRVOS_SPEC['vid_a']
    pushing = dict(video['expressions']['0'], pair_exp_id=None)  # its inverse is left out
    train = dict(video, expressions={'0': pushing, '2': video['expressions']['2']})
    write_split(osp.join(work, 'data', 'interrvos', 'train'), {'vid_a': train})
    valid = dict(video, expressions={'0': pushing})
    write_split(osp.join(work, 'data', 'interrvos', 'valid'), {'vid_a': valid})
    config = osp.join(work, 'reviosa_1b_cpu.py')
    with open(config, 'w') as f:
        f.write(CPU_CONFIG)

    _run([osp.join(REPO_ROOT, 'tools', 'model_converters', 'internvl2_5_to_hf.py'),
          'pretrained/InternVL2_5-1B', 'pretrained/InternVL2_5-1B-hf'], work)
    with open(osp.join(pretrained, 'InternVL2_5-1B-hf', 'config.json')) as f:
        native = json.load(f)
    assert native['text_config']['hidden_size'] == published['llm_config']['hidden_size'] == 896
    assert native['vision_config']['hidden_size'] == 1024

    # Two training iterations (two items, batch 1, one epoch) of the real recipe.
    _run([osp.join(REPO_ROOT, 'tools', 'train.py'), config, '--work-dir', 'work_dirs/train',
          '--no-validate'], work)
    checkpoint = osp.join(work, 'work_dirs', 'train', 'epoch_1.pth')
    assert osp.isfile(checkpoint)
    from mmreviosa.engine import read_trained_state_dict
    state = read_trained_state_dict(checkpoint)
    # Only what training changes is saved (frozen weights come from pretrained/).
    assert any('lora_' in k for k in state) and any('sam_mask_decoder' in k for k in state)
    assert not any('image_encoder' in k or 'vision_tower' in k for k in state)
    assert all(v.dtype == torch.float32 for k, v in state.items()
               if isinstance(v, torch.Tensor) and ('lora_' in k or 'projector.' in k))

    # Testing with the bf16 weights of the config, without autocast (MMEngine's TestLoop).
    _run([osp.join(REPO_ROOT, 'tools', 'test.py'), config, checkpoint, '--work-dir',
          'work_dirs/test'], work)
    with open(osp.join(work, 'work_dirs', 'test', 'metrics.json')) as f:
        metrics = json.load(f)
    assert 'interrvos/actor_JF' in metrics and 'interrvos/interaction_acc' in metrics

    _run([osp.join(REPO_ROOT, 'tools', 'model_converters', 'export_reviosa.py'), config,
          checkpoint, 'export'], work)
    assert osp.isfile(osp.join(work, 'export', 'reviosa.pth'))
    assert osp.isfile(osp.join(work, 'export', 'mllm', 'config.json'))
