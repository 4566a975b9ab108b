"""mmreviosa's registries are children of MMEngine's and usable from other projects."""
import mmengine.registry as mmengine_registry
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope

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
    init_default_scope(cfg.default_scope)
    model = mmengine_registry.MODELS.build(cfg.model)
    assert type(model).__module__ == 'mmreviosa.models.segmentors.role_projector'


def test_unknown_type_error_names_the_registry():
    with pytest.raises(KeyError, match='model'):
        registry.MODELS.build(dict(type='NoSuchModel'))
