"""mmreviosa's registries are children of MMEngine's and usable from other projects."""
import importlib.util
import os.path as osp
import subprocess
import sys

import mmengine.registry as mmengine_registry
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

import mmreviosa.registry as registry


@pytest.mark.parametrize('name', registry.__all__)
def test_registries_are_children_of_mmengine(name):
    reg = getattr(registry, name)
    assert reg.scope == 'mmreviosa'
    if name == 'TOKENIZERS':  # no MMEngine counterpart
        assert reg.parent is None
        return
    parent_name = 'EVALUATOR' if name == 'EVALUATORS' else name
    assert reg.parent is getattr(mmengine_registry, parent_name)


def test_build_without_importing_the_module_first():
    # `locations` makes the registry import mmreviosa.models on demand. (The scope is pinned:
    # other tests leave another project's default scope behind.)
    with DefaultScope.overwrite_default_scope('mmreviosa'):
        model = registry.MODELS.build(dict(type='RoleTokenProjector', in_dim=4, out_dim=2))
    assert type(model).__name__ == 'RoleTokenProjector'


def test_other_package_config_builds_our_model_through_custom_imports():
    cfg = Config(dict(
        default_scope='mmengine',
        custom_imports=dict(imports=['mmreviosa'], allow_failed_imports=False),
        model=dict(type='mmreviosa.RoleTokenProjector', in_dim=4, out_dim=2)))
    # A context, so that the other project's scope does not stay current for later tests.
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = mmengine_registry.MODELS.build(cfg.model)
    assert type(model).__module__ == 'mmreviosa.models.segmentors.role_projector'


def test_unknown_type_error_names_the_registry():
    with pytest.raises(KeyError, match='model'):
        registry.MODELS.build(dict(type='NoSuchModel'))


# One member of each registry that holds ours, built in a fresh process with nothing imported
# first: (set-up statements, config). Registries without `locations` hold none of ours.
REPO_ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
MEVIS_TINY = osp.join(REPO_ROOT, 'tests', 'data', 'mevis_tiny', 'train')
ONE_MEMBER = {
    'HOOKS': ('', "dict(type='FiniteLossHook')"),
    'PARAM_SCHEDULERS': ('import torch\n'
                         'opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)',
                         "dict(type='WarmupLinearLR', optimizer=opt, end=10)"),
    'DATASETS': ('', f"dict(type='InterRVOSDataset', data_root={MEVIS_TINY!r})"),
    'TRANSFORMS': ('', "dict(type='SampleFrames', num_frames=2)"),
    'MODELS': ('', "dict(type='RoleTokenProjector', in_dim=4, out_dim=2)"),
    'MODEL_WRAPPERS': ('import torch, torch.distributed as dist\n'
                       "dist.init_process_group('gloo', rank=0, world_size=1, "
                       "init_method='file://{tmp_dir}/gloo')",
                       "dict(type='CPUDistributedDataParallel', module=torch.nn.Linear(2, 2))"),
    'TOKENIZERS': ('', "dict(type='build_tiny_tokenizer')"),
    'METRICS': ('', "dict(type='InterRVOSMetric')"),
}
# Test doubles register into MODELS when a test imports mmreviosa.testing.
TEST_DOUBLES = 'mmreviosa.testing'


@pytest.fixture(scope='module')
def all_members():
    """Registry name -> {member name: module} once every location has been imported."""
    from mmreviosa.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    return {name: {key: getattr(obj, '__module__', '') for key, obj in
                   getattr(registry, name)._module_dict.items()
                   if not getattr(obj, '__module__', '').startswith(TEST_DOUBLES)}
            for name in registry.__all__}


def _in_locations(module: str, locations) -> bool:
    return any(module == loc or module.startswith(loc + '.') for loc in locations)


@pytest.mark.parametrize('name', registry.__all__)
def test_locations_exist_and_hold_every_member(name, all_members):
    reg = getattr(registry, name)
    for location in reg._locations:
        assert importlib.util.find_spec(location) is not None, f'{name}: no module {location}'
    members = all_members[name]
    if reg._locations:
        assert name in ONE_MEMBER, f'{name} has locations: add a member to build to ONE_MEMBER'
        assert members, f'{name}: nothing registers under {reg._locations}'
    else:
        assert name not in ONE_MEMBER
    elsewhere = {k: m for k, m in members.items() if not _in_locations(m, reg._locations)}
    assert not elsewhere, f'{name} locations {reg._locations} miss {elsewhere}'


@pytest.mark.parametrize('name', sorted(ONE_MEMBER))
def test_build_one_member_in_a_fresh_process(name, all_members, tmp_path):
    setup, cfg = ONE_MEMBER[name]
    setup = setup.replace('{tmp_dir}', str(tmp_path))
    code = (f'{setup}\nfrom mmreviosa.registry import {name} as registry\n'
            f'registry.build({cfg})\nprint(" ".join(sorted(registry._module_dict)))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         cwd=REPO_ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    # Importing the locations alone registered every member.
    assert set(all_members[name]) <= set(out.stdout.split())


@pytest.mark.parametrize('name', [n for n in registry.__all__ if n != 'TOKENIZERS'])
def test_default_scope_builds_go_through_our_registries(name):
    # MMEngine's runner builds loops, optimizers, visualizers... through the default scope's
    # child of its root registries; without one it warns and falls back.
    parent_name = 'EVALUATOR' if name == 'EVALUATORS' else name
    root = getattr(mmengine_registry, parent_name)
    with DefaultScope.overwrite_default_scope('mmreviosa'):
        with root.switch_scope_and_registry(None) as used:
            assert used is getattr(registry, name)


def test_importing_the_package_leaves_mmengine_unchanged():
    # Nothing is patched into MMEngine (or torch.load) on import; our tools install their
    # checkpoint loader explicitly (mmreviosa.engine.plain_data_checkpoints).
    code = '''
import sys, types
import mmengine.runner.checkpoint, torch
def snapshot():
    return {(name, key): id(value) for name, mod in list(sys.modules.items())
            if name.startswith('mmengine') and isinstance(mod, types.ModuleType)
            for key, value in list(vars(mod).items())}
loader = mmengine.runner.checkpoint.CheckpointLoader
before, schemes, load = snapshot(), dict(loader._schemes), torch.load
import mmreviosa, mmreviosa.apis, mmreviosa.engine, mmreviosa.visualization
from mmreviosa.utils import register_all_modules
register_all_modules()
after = snapshot()
assert loader._schemes == schemes
assert torch.load is load
print([key for key in before if after.get(key, before[key]) != before[key]])
'''
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         cwd=REPO_ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == '[]'
