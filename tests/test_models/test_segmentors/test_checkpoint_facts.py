"""A checkpoint of the single-[SEG] model does not load into the role-token model (and back):
the two have the same weight names and shapes, so only the saved facts tell them apart."""
import logging
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint, save_checkpoint
from mmengine.runner.checkpoint import get_state_dict, weights_to_cpu

from mmreviosa.engine.checkpoint import load_local_checkpoint, plain_data_checkpoints
from mmreviosa.models.utils.checkpoint_facts import decode_extra_state
from mmreviosa.registry import MODELS
from mmreviosa.testing import REPO_ROOT

ROLES = osp.join(REPO_ROOT, 'configs', 'reviosa', 'reviosa_tiny_intershapes.py')
SINGLE = osp.join(REPO_ROOT, 'configs', 'reviosa', 'ablation', 'reviosa_tiny_single_seg.py')


@pytest.fixture(scope='module')
def models():
    torch.set_num_threads(1)
    init_default_scope('mmreviosa')
    torch.manual_seed(0)
    return {name: MODELS.build(Config.fromfile(path).model)
            for name, path in (('roles', ROLES), ('single', SINGLE))}


def _save(model, path):
    """As MMEngine's CheckpointHook writes the weights."""
    save_checkpoint(dict(state_dict=weights_to_cpu(get_state_dict(model)), meta=dict(iter=1)),
                    path)
    return path


def _load(model, path):
    with plain_data_checkpoints():
        load_checkpoint(model, path, map_location='cpu', strict=True)


def test_the_two_models_differ_only_in_the_saved_facts(models):
    roles, single = (models[k].state_dict() for k in ('roles', 'single'))
    assert roles.keys() == single.keys()
    assert all(roles[k].shape == single[k].shape for k in roles if k != '_extra_state')
    assert decode_extra_state(roles['_extra_state'])['checkpoint_facts']['role_mode'] == 'roles'
    assert decode_extra_state(single['_extra_state'])['checkpoint_facts']['role_mode'] == \
        'single'


def test_every_state_dict_entry_is_a_tensor_as_ddp_broadcasts_them(models):
    """MMEngine broadcasts each state-dict entry across DDP ranks after initialising the
    weights; a non-tensor entry (the facts as a dict) stopped every distributed run."""
    from mmengine.dist.utils import get_data_device
    state = models['roles'].state_dict()
    assert all(torch.is_tensor(v) for v in state.values())
    get_data_device(state['_extra_state'])  # what mmengine.dist.broadcast asks first


def test_facts_saved_as_a_dict_by_earlier_versions_are_still_compared(models):
    model = models['roles']
    state = model.state_dict()
    state['_extra_state'] = {'checkpoint_facts': dict(model.checkpoint_facts(),
                                                      role_mode='single')}
    with pytest.raises(ValueError, match="checkpoint: role_mode='single'"):
        model.load_state_dict(state)


@pytest.mark.parametrize('saved_as, loaded_into', [('single', 'roles'), ('roles', 'single')])
def test_a_checkpoint_of_the_other_role_mode_is_refused_naming_both(models, tmp_path, saved_as,
                                                                    loaded_into):
    path = _save(models[saved_as], str(tmp_path / f'{saved_as}.pth'))
    with pytest.raises(ValueError) as info:
        _load(models[loaded_into], path)
    message = str(info.value)
    assert f"checkpoint: role_mode='{saved_as}'" in message
    assert f"config: role_mode='{loaded_into}'" in message
    # The token each side segments with is named too.
    assert ("'[SEG]'" in message) and ("'[SEG_ACT]'" in message)


def test_the_same_config_loads_and_the_checkpoint_is_plain_data(models, tmp_path):
    path = _save(models['single'], str(tmp_path / 'single.pth'))
    facts = decode_extra_state(
        load_local_checkpoint(path)['state_dict']['_extra_state'])['checkpoint_facts']
    assert facts == models['single'].checkpoint_facts()
    torch.load(path, weights_only=True)  # no class of ours inside
    _load(models['single'], path)


def test_init_model_refuses_the_other_role_mode(models, tmp_path):
    from mmreviosa.apis import init_model
    path = _save(models['single'], str(tmp_path / 'single.pth'))
    with pytest.raises(ValueError, match=r"checkpoint: role_mode='single'.*config: "
                                         r"role_mode='roles'"):
        init_model(ROLES, path)


def test_architecture_facts_are_compared(models):
    model = models['roles']
    facts = model.checkpoint_facts()
    assert facts['mllm_hidden_size'] == 128 and facts['mllm_num_layers'] == 3
    assert facts['sam2_prompt_dim'] == model.sam2_head.prompt_dim
    with pytest.raises(ValueError, match=r'checkpoint: mllm_num_layers=24; config: '
                                         r'mllm_num_layers=3'):
        model.check_checkpoint_facts({**facts, 'mllm_num_layers': 24})
    # A fact only one side knows (a newer or older version) is not compared.
    model.check_checkpoint_facts({k: v for k, v in facts.items() if k != 'sam2_prompt_dim'})
    model.check_checkpoint_facts({**facts, 'added_later': 1})


def test_a_checkpoint_without_facts_loads_with_a_warning(models, tmp_path, monkeypatch):
    from mmreviosa.models.utils import checkpoint_facts
    warnings = []
    monkeypatch.setattr(checkpoint_facts, 'print_log',
                        lambda msg, **kwargs: warnings.append((msg, kwargs.get('level'))))
    state = models['roles'].state_dict()
    state.pop('_extra_state')
    path = str(tmp_path / 'old.pth')
    save_checkpoint(dict(state_dict=state), path)
    _load(models['roles'], path)  # strict: the absent facts are not a missing key
    assert [level for msg, level in warnings if 'records no checkpoint facts' in msg] == [
        logging.WARNING]
