"""Merging LoRA and exporting keeps predictions, and the export loads with weights_only=True."""
import copy
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import save_checkpoint

from mmreviosa.apis import inference_video
from mmreviosa.engine.checkpoint import load_local_checkpoint
from mmreviosa.models.utils.checkpoint_facts import decode_extra_state
from mmreviosa.registry import MODELS
from mmreviosa.testing import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'reviosa', 'reviosa_tiny_intershapes.py')


def _export_tool():
    return load_tool('tools/model_converters/export_reviosa.py')


def test_merged_export_predicts_like_the_lora_model(tmp_path):
    torch.set_num_threads(1)
    init_default_scope('mmreviosa')
    cfg = Config.fromfile(CONFIG)
    cfg.model.mllm.update(lora=dict(type='LoraConfig', r=4, lora_alpha=8), freeze_llm=True)
    cfg.model.test_cfg.force_answer = 'Sure, it is [SEG_ACT] and [SEG_TAR].'
    cfg_path = str(tmp_path / 'lora.py')
    cfg.dump(cfg_path)
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(cfg.model))
    with torch.no_grad():  # non-zero LoRA B, so that merging changes the base weights
        for name, param in model.named_parameters():
            if 'lora_B' in name:
                param.normal_(0, 0.05)
    ckpt = str(tmp_path / 'ckpt.pth')
    save_checkpoint(dict(state_dict=model.state_dict()), ckpt)

    frames = list(torch.randint(0, 255, (4, 40, 48, 3), dtype=torch.uint8,
                                generator=torch.Generator().manual_seed(1)).numpy())
    model.cfg = cfg
    model.eval()
    expected = inference_video(model, frames, 'the red circle pushing the blue square')

    path = _export_tool().export(cfg_path, ckpt, str(tmp_path / 'export'))
    exported = torch.load(path, weights_only=True)
    # Our loader reads it too, and it carries the facts init_model compares with a config.
    assert load_local_checkpoint(path)['state_dict'].keys() == exported['state_dict'].keys()
    assert decode_extra_state(exported['state_dict']['_extra_state'])['checkpoint_facts'] == \
        model.checkpoint_facts()
    assert exported['role_token_ids'] == model.mllm.role_token_ids
    assert not any('lora_' in k for k in exported['state_dict'])

    merged_cfg = copy.deepcopy(cfg.model)
    merged_cfg.mllm.update(lora=None, freeze_llm=False)
    merged = MODELS.build(merged_cfg)
    merged.load_state_dict(exported['state_dict'], strict=True)
    merged.cfg = cfg
    merged.eval()
    got = inference_video(merged, frames, 'the red circle pushing the blue square')
    # Merging changes float rounding only: masks agree on all but a sliver of pixels.
    assert (got.actor_masks != expected.actor_masks).mean() < 1e-3
    assert (got.target_masks != expected.target_masks).mean() < 1e-3
    assert osp.exists(osp.join(str(tmp_path / 'export'), 'mllm', 'config.json'))
