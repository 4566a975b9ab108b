"""The real-scale configs build exactly the parameters their checkpoints hold: names, shapes
and which ones train, against lists written from the code that trained them
(tests/data/param_names/, one ``name<TAB>shape<TAB>trained|frozen`` line per parameter).

Built on the meta device from the architecture presets, as count_params.py does (no weights
read; the tokenizer, which lives in the pretrained folder, is left out)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmreviosa.registry import MODELS
from mmreviosa.testing import REPO_ROOT, load_tool

PARAM_NAMES = osp.join(REPO_ROOT, 'tests', 'data', 'param_names')


def parameter_lines(model: torch.nn.Module) -> list:
    return [f"{name}\t{','.join(map(str, p.shape))}\t{'trained' if p.requires_grad else 'frozen'}"
            for name, p in model.named_parameters()]


# The DeepSpeed / FSDP variants only change the runner: the model is their base config's.
@pytest.mark.parametrize('config, expected', [
    ('reviosa_1b.py', 'reviosa_1b.txt'),
    ('reviosa_1b_zero2.py', 'reviosa_1b.txt'),
    ('reviosa_4b.py', 'reviosa_4b.txt'),
    ('reviosa_4b_fsdp.py', 'reviosa_4b.txt'),
])
def test_real_configs_build_the_recorded_parameters(config, expected):
    count_params = load_tool('tools/analysis_tools/count_params.py')
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'reviosa', config))
    init_default_scope('mmreviosa')
    with torch.device('meta'):
        model = MODELS.build(count_params.meta_model_cfg(cfg))
    with open(osp.join(PARAM_NAMES, expected)) as f:
        recorded = f.read().splitlines()
    built = parameter_lines(model)
    missing, extra = sorted(set(recorded) - set(built)), sorted(set(built) - set(recorded))
    assert not missing and not extra, (
        f'{config}: {len(missing)} recorded parameters not built (first: {missing[:5]}), '
        f'{len(extra)} built that were not recorded (first: {extra[:5]})')
    assert built == recorded, f'{config}: the same parameters in another order'
