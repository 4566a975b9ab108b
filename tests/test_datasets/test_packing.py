"""Several expressions of one video per training item: grouping, pipeline, collation."""
import math
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from mmreviosa.datasets import InterRVOSDataset
from mmreviosa.datasets.packing import group_expressions
from mmreviosa.datasets.transforms import LoadRoleMasks
from mmreviosa.models.data_preprocessor import InterRVOSDataPreprocessor
from mmreviosa.structures import PackedDataSamples
from mmreviosa.text import IGNORE_INDEX, build_tokenizer_from_cfg

CONFIG = osp.join(osp.dirname(__file__), '..', '..', 'configs', 'reviosa',
                  'reviosa_tiny_intershapes.py')


@pytest.fixture(scope='module')
def cfg():
    init_default_scope('mmreviosa')
    return Config.fromfile(CONFIG)


@pytest.fixture(scope='module')
def split_root(tmp_path_factory):
    from mmreviosa.builders.intershapes import generate_split
    root = str(tmp_path_factory.mktemp('intershapes'))
    generate_split(root, 'valid', num_videos=3, seed=1)
    return osp.join(root, 'valid')


def _expressions(dataset):
    """(video_id, exp_id) of every expression the dataset's items hold."""
    pairs = []
    for idx in range(len(dataset)):
        item = dataset.get_raw_item(idx)
        pairs += [(item['video_id'], t['exp_id']) for t in item.get('turns') or [item]]
    return pairs


def test_grouping_visits_every_expression_once_in_groups_of_one_video():
    data_list = [dict(video_id=v, exp_id=str(e), expression=f'{v}{e}', has_interaction=False,
                      num_video_frames=3)
                 for v, n in (('a', 7), ('b', 2), ('c', 5)) for e in range(n)]
    groups = group_expressions(data_list, 3, seed=0)
    # ceil(7/3) + ceil(2/3) + ceil(5/3) groups, none larger than 3, one video each.
    assert len(groups) == 3 + 1 + 2
    assert all(1 <= len(g['turns']) <= 3 for g in groups)
    held = sorted((g['video_id'], t['exp_id']) for g in groups for t in g['turns'])
    assert held == sorted((d['video_id'], d['exp_id']) for d in data_list)
    assert all(g['exp_id'] == ','.join(t['exp_id'] for t in g['turns']) for g in groups)
    # Shared fields once, expression fields per turn.
    assert all(g['num_video_frames'] == 3 and 'expression' not in g for g in groups)
    # The same grouping in every process; another seed gives another grouping.
    assert group_expressions(data_list, 3, seed=0) == groups
    assert group_expressions(data_list, 3, seed=1) != groups


def test_dataset_packs_each_video_and_keeps_every_expression(split_root):
    single = InterRVOSDataset(split_root)
    packed = InterRVOSDataset(split_root, expressions_per_item=3)
    counts = {}
    for video_id, _ in _expressions(single):
        counts[video_id] = counts.get(video_id, 0) + 1
    assert len(packed) == sum(math.ceil(n / 3) for n in counts.values())
    assert sorted(_expressions(packed)) == sorted(_expressions(single))
    # Every expression maps to the item holding it.
    index = packed.expression_index()
    for key, idx in index.items():
        item = packed.get_raw_item(idx)
        assert item['video_id'] == key[0] and key[1] in [t['exp_id'] for t in item['turns']]
    with pytest.raises(ValueError, match='test items hold one expression|every test item'):
        InterRVOSDataset(split_root, expressions_per_item=3, test_mode=True)


def test_packed_item_has_each_turns_own_masks_and_one_labelled_answer_per_turn(cfg, split_root):
    packed = InterRVOSDataset(split_root, expressions_per_item=4, pipeline=cfg.train_pipeline)
    single = InterRVOSDataset(split_root)
    by_ids = {(single.get_raw_item(i)['video_id'], single.get_raw_item(i)['exp_id']): i
              for i in range(len(single))}
    idx = max(range(len(packed)), key=lambda i: len(packed.get_raw_item(i)['turns']))
    np.random.seed(3)
    out = packed[idx]
    samples = out['data_samples']
    assert isinstance(samples, PackedDataSamples) and len(samples) == 4
    frame_inds = samples.samples[0].frame_inds
    for sample in samples:
        assert sample.frame_inds == frame_inds  # one set of frames for every turn
        # Masks of the same frames read as a one-expression item reads them.
        info = single.get_data_info(by_ids[(sample.video_id, sample.exp_id)])
        expected = LoadRoleMasks()(dict(info, frame_inds=frame_inds))
        assert np.array_equal(sample.gt_actor_masks.numpy(), expected['gt_actor_masks'])
        assert np.array_equal(sample.gt_target_masks.numpy(), expected['gt_target_masks'])
        assert sample.expression == info['expression']
    # The conversation: the images once, then the turns in order, each answer labelled.
    tokenizer = build_tokenizer_from_cfg(cfg.tokenizer)
    ids, labels = out['inputs']['input_ids'], out['inputs']['labels']
    text = tokenizer.decode(ids)
    assert text.count('<img>') == len(samples.samples[0].key_frame_inds)
    positions = [text.index(s.question) for s in samples]
    assert positions == sorted(positions) and -1 not in positions
    labelled = tokenizer.decode(ids[labels != IGNORE_INDEX])
    assert labelled == ''.join(s.answer + '<|im_end|>' for s in samples)
    assert labels[-1] != IGNORE_INDEX
    # The first turn is exactly what a one-expression item of that expression holds.
    first = samples.samples[0]
    tokenize = [t for t in packed.pipeline.transforms
                if type(t).__name__ == 'TokenizeConversation'][0]
    alone = tokenize(dict(expression=first.expression, has_interaction=first.has_interaction,
                          key_frame_inds=first.key_frame_inds))
    assert torch.equal(ids[:len(alone['input_ids'])], alone['input_ids'])
    assert torch.equal(labels[:len(alone['labels'])], alone['labels'])


def test_collation_keeps_turns_and_the_preprocessor_flattens_them(cfg, split_root):
    packed = InterRVOSDataset(split_root, expressions_per_item=3, pipeline=cfg.train_pipeline)
    single = InterRVOSDataset(split_root, pipeline=cfg.train_pipeline)
    batch = pseudo_collate([packed[0], single[0], packed[1]])
    assert isinstance(batch['data_samples'][0], PackedDataSamples)
    data = InterRVOSDataPreprocessor()(batch, training=True)
    turns = [len(packed.get_raw_item(0)['turns']), 1, len(packed.get_raw_item(1)['turns'])]
    assert data['inputs']['num_turns'] == turns
    expected = [*batch['data_samples'][0], batch['data_samples'][1], *batch['data_samples'][2]]
    assert [(s.video_id, s.exp_id) for s in data['data_samples']] == \
        [(s.video_id, s.exp_id) for s in expected]
    assert data['inputs']['input_ids'].shape[0] == 3  # one sequence per item
    assert data['inputs']['num_frames'] == [len(expected[0].frame_inds)] * 3
