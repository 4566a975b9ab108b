"""select_aml_layers.py finds the layers and heads planted to attend to the object."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

import mmreviosa.apis
from mmreviosa.builders.intershapes import generate_split
from mmreviosa.testing import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'reviosa', 'reviosa_tiny_intershapes.py')
ATTN_IMPL = 'reviosa_sdpa'   # the tiny config's attention
GRID = 4                     # the tiny model's 16 visual tokens per frame
PLANTED = [(1, 2), (2, 0)]   # (layer, head): random weights put (0, 1) and (2, 3) on top
PLANT_BIAS = 30.0            # added to the object keys' logits: those heads see nothing else


@pytest.fixture(scope='module')
def split_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('intershapes'))
    generate_split(root, 'valid', num_videos=2, seed=3)
    return osp.join(root, 'valid')


def object_patches(mask: torch.Tensor) -> torch.Tensor:
    """(H, W) mask -> (GRID * GRID,) bool: the patches (row-major) it touches."""
    height, width = mask.shape
    assert height % GRID == 0 and width % GRID == 0
    blocks = mask.bool().view(GRID, height // GRID, GRID, width // GRID)
    return blocks.any(dim=3).any(dim=1).flatten()


def plant(model, monkeypatch):
    """Make the PLANTED heads' queries attend to their object's visual tokens.

    The model's own attention is changed (an additive per-head mask, which both the stock
    SDPA and the role-row capture apply): rows at [SEG_TAR] attend to the target's patches,
    every other row (the phrase, [SEG_ACT]) to the actor's.  The batch (token ids, GT masks)
    is read where the data preprocessor hands it to the model.
    """
    batch = {}
    preprocess = model.data_preprocessor.forward

    def remember_batch(*args, **kwargs):
        data = preprocess(*args, **kwargs)
        batch.update(input_ids=data['inputs']['input_ids'], samples=data['data_samples'])
        return data

    monkeypatch.setattr(model.data_preprocessor, 'forward', remember_batch)
    image_id, target_id = model.mllm.image_token_id, model.role_ids[1]
    base = ALL_ATTENTION_FUNCTIONS[ATTN_IMPL]

    def object_keys(length: int) -> torch.Tensor:
        """(B, Q, K) float: 1 on the visual tokens of each query row's object."""
        input_ids = batch['input_ids']
        keys = torch.zeros(len(input_ids), length, length)
        for b, sample in enumerate(batch['samples']):
            visual = torch.nonzero(input_ids[b] == image_id).flatten()
            frames = list(sample.key_frame_inds)
            actor = torch.cat([object_patches(m) for m in sample.gt_actor_masks[frames]])
            target = torch.cat([object_patches(m) for m in sample.gt_target_masks[frames]])
            keys[b, :, visual[actor]] = 1.0
            target_rows = (input_ids[b] == target_id).nonzero().flatten()
            keys[b, target_rows] = 0.0
            keys[b, target_rows[:, None], visual[target][None, :]] = 1.0
        return keys

    def planted_attention(module, query, key, value, attention_mask, *args, **kwargs):
        layer = getattr(module, 'layer_idx', None)
        heads = [h for planted_layer, h in PLANTED if planted_layer == layer]
        if getattr(module, 'is_causal', False) and heads:
            batch_size, num_heads, length = query.shape[:3]
            if attention_mask is None:
                keep = torch.ones(length, length, dtype=torch.bool).tril()[None, None]
            else:
                assert attention_mask.dtype == torch.bool, attention_mask.dtype
                keep = attention_mask[..., :length]
            keep = keep.expand(batch_size, num_heads, length, length)
            bias = torch.zeros(batch_size, num_heads, length, length, dtype=query.dtype)
            bias[:, heads] = PLANT_BIAS * object_keys(length)[:, None].to(query.dtype)
            attention_mask = torch.where(keep, bias, torch.finfo(query.dtype).min)
        return base(module, query, key, value, attention_mask, *args, **kwargs)

    monkeypatch.setitem(ALL_ATTENTION_FUNCTIONS, ATTN_IMPL, planted_attention)


@pytest.mark.parametrize('query', ['phrase', 'role'])
def test_finds_the_planted_layers_and_heads(split_root, tmp_path, monkeypatch, query):
    tool = load_tool('tools/analysis_tools/select_aml_layers.py')
    init_model = mmreviosa.apis.init_model

    def init_planted_model(*args, **kwargs):
        model = init_model(*args, **kwargs)
        plant(model, monkeypatch)
        return model

    monkeypatch.setattr(mmreviosa.apis, 'init_model', init_planted_model)
    torch.manual_seed(0)
    out = str(tmp_path / 'aml.py')
    result = tool.main([CONFIG, '--data-root', split_root, '--num-items', '4', '--top-k', '2',
                        '--query', query, '--out', out])
    assert sorted(result['pairs']) == PLANTED
    assert result['layers'] == [1, 2]
    assert result['heads'] == [0, 2]
    snippet = Config.fromfile(out)
    assert snippet.aml_layers == [1, 2] and snippet.aml_heads == [0, 2]
    # A planted head puts (almost) all its visual attention on the object; others do not.
    share = result['share']
    for layer, head in PLANTED:
        assert share[layer, head] > 0.99
        assert result['concentration'][layer, head] == pytest.approx(
            share[layer, head] / result['chance'][layer, head])
    unplanted = [share[layer, head] for layer in range(3) for head in range(4)
                 if (layer, head) not in PLANTED]
    assert max(unplanted) < 0.9


def test_with_a_checkpoint_the_role_tokens_are_queried_and_the_snippet_loads(
        split_root, tmp_path):
    tool = load_tool('tools/analysis_tools/select_aml_layers.py')
    torch.manual_seed(0)
    checkpoint = str(tmp_path / 'random.pth')
    torch.save({'state_dict': mmreviosa.apis.init_model(CONFIG).state_dict()}, checkpoint)
    out = str(tmp_path / 'snippets' / 'aml.py')
    result = tool.main([CONFIG, checkpoint, '--data-root', split_root, '--num-items', '3',
                        '--top-k', '3', '--out', out])
    assert result['query'] == 'role'
    snippet = Config.fromfile(out)
    assert len(snippet.aml_layers) == 3 and set(snippet.aml_layers) <= {0, 1, 2}
    assert 1 <= len(snippet.aml_heads) <= 3 and set(snippet.aml_heads) <= {0, 1, 2, 3}
    assert result['concentration'].shape == (3, 5)
