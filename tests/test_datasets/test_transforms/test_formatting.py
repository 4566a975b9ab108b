"""PackInterRVOSInputs alone and at the end of the example train / test pipelines."""
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config

DATA_DIR = osp.abspath(osp.join(osp.dirname(__file__), '..', '..', 'data'))
sys.path.insert(0, DATA_DIR)
from interrvos_fixtures import INTERRVOS_SPEC, expected_masks, write_split  # noqa: E402

import mmreviosa.datasets.transforms.loading  # noqa: E402,F401
import mmreviosa.datasets.transforms.processing  # noqa: E402,F401
import mmreviosa.datasets.transforms.sampling  # noqa: E402,F401
from mmreviosa.datasets.interrvos import InterRVOSDataset  # noqa: E402
from mmreviosa.datasets.transforms.formatting import PackInterRVOSInputs  # noqa: E402
from mmreviosa.structures.data_sample import InterRVOSDataSample  # noqa: E402


def _processed_item(**extra):
    item = dict(video_id='v', exp_id='1', expression='a pushes b',
                frame_names=['00000', '00001', '00002', '00003'], frame_inds=[1, 3],
                key_frame_inds=[0, 1, 1], ori_shape=(6, 8), has_interaction=True,
                pair_exp_id='0', num_video_frames=4, role_token_ids={'[SEG_ACT]': 5},
                mllm_pixels=np.ones((3, 3, 4, 4), np.uint8),
                sam_pixels=np.full((2, 3, 8, 8), 7, np.uint8),
                input_ids=torch.arange(6), labels=torch.tensor([-100] * 4 + [4, 5]),
                gt_actor_masks=np.zeros((2, 6, 8), bool),
                gt_target_masks=np.ones((2, 6, 8), bool), type_id=1)
    item.update(extra)
    return item


def test_pack_inputs_and_data_sample():
    packed = PackInterRVOSInputs()(_processed_item())
    inputs, sample = packed['inputs'], packed['data_samples']
    assert inputs['mllm_pixels'].dtype == torch.uint8
    assert tuple(inputs['mllm_pixels'].shape) == (3, 3, 4, 4)
    assert tuple(inputs['sam_pixels'].shape) == (2, 3, 8, 8) and inputs['sam_pixels'].max() == 7
    assert inputs['input_ids'].dtype == inputs['labels'].dtype == torch.long
    assert isinstance(sample, InterRVOSDataSample)
    assert sample.frame_names == ['00001', '00003']  # the sampled frames only
    assert sample.frame_inds == [1, 3] and sample.key_frame_inds == [0, 1, 1]
    assert sample.ori_shape == (6, 8) and sample.has_interaction is True
    assert sample.pair_exp_id == '0' and sample.num_video_frames == 4
    assert sample.role_token_ids == {'[SEG_ACT]': 5} and sample.type_id == 1
    assert sample.gt_actor_masks.dtype == torch.bool
    assert tuple(sample.gt_target_masks.shape) == (2, 6, 8) and sample.gt_target_masks.all()


def test_pack_without_labels_or_masks():
    item = _processed_item()
    for key in ('labels', 'gt_actor_masks', 'gt_target_masks', 'role_token_ids'):
        item.pop(key)
    packed = PackInterRVOSInputs()(item)
    assert 'labels' not in packed['inputs']
    assert 'gt_actor_masks' not in packed['data_samples']
    assert packed['data_samples'].role_token_ids is None


def test_pack_names_the_missing_transform():
    item = _processed_item()
    item.pop('input_ids')
    with pytest.raises(KeyError, match=r"video v expression 1: keys \['input_ids'\].*"
                                       r"TokenizeConversation"):
        PackInterRVOSInputs()(item)


def test_pack_checks_frame_counts():
    with pytest.raises(ValueError, match='sam_pixels has 3 frames, frame_inds 2'):
        PackInterRVOSInputs()(_processed_item(sam_pixels=np.zeros((3, 3, 8, 8), np.uint8)))


# The example pipelines of the data path: the toy config's (tiny tokenizer, 32 px, 4 image
# tokens a frame), sampling 4 frames in training and asking for 4 key frames at test time.
_TOY = Config.fromfile(osp.join(DATA_DIR, 'configs', 'toy_intershapes.py'))
TRAIN_PIPELINE = [dict(t, num_frames=4) if t['type'] == 'SampleFrames' else t
                  for t in _TOY.train_pipeline]
TEST_PIPELINE = [dict(t, num_key_frames=4) if t['type'] == 'SampleFrames' else t
                 for t in _TOY.test_pipeline]


@pytest.fixture(scope='module')
def split(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('pack') / 'valid')
    write_split(root)
    return root


def test_example_train_pipeline(split):
    import mmreviosa.datasets.transforms.conversation  # noqa: F401
    np.random.seed(0)
    dataset = InterRVOSDataset(split, pipeline=TRAIN_PIPELINE)
    packed = dataset[0]  # vid_a: "the red square pushing the blue box", 4 frames
    inputs, sample = packed['inputs'], packed['data_samples']
    assert tuple(inputs['mllm_pixels'].shape) == (4, 3, 32, 32)
    assert tuple(inputs['sam_pixels'].shape) == (4, 3, 32, 32)
    assert inputs['labels'].shape == inputs['input_ids'].shape
    ids = sample.role_token_ids
    # 4 key frames x 4 image tokens, and the answer names both roles.
    assert int((inputs['input_ids'] == ids['<IMG_CONTEXT>']).sum()) == 16
    answer = inputs['input_ids'][inputs['labels'] != -100]
    assert ids['[SEG_ACT]'] in answer and ids['[SEG_TAR]'] in answer
    np.testing.assert_array_equal(
        sample.gt_actor_masks.numpy(),
        expected_masks(INTERRVOS_SPEC, 'vid_a', [10], sample.frame_inds))
    np.testing.assert_array_equal(
        sample.gt_target_masks.numpy(),
        expected_masks(INTERRVOS_SPEC, 'vid_a', [11], sample.frame_inds))


def test_example_test_pipeline(split):
    import mmreviosa.datasets.transforms.conversation  # noqa: F401
    dataset = InterRVOSDataset(split, pipeline=TEST_PIPELINE, test_mode=True)
    packed = dataset[3]  # vid_b: 2 frames, no interaction
    inputs, sample = packed['inputs'], packed['data_samples']
    assert 'labels' not in inputs
    # 2 frames, 4 key frames asked: each frame is a key frame once (SampleFrames)
    assert sample.frame_inds == [0, 1] and sample.key_frame_inds == [0, 1]
    assert tuple(inputs['sam_pixels'].shape) == (2, 3, 32, 32)
    assert tuple(inputs['mllm_pixels'].shape) == (2, 3, 32, 32)
    assert sample.has_interaction is False and not sample.gt_target_masks.any()
    assert tuple(sample.gt_actor_masks.shape) == (2, 20, 30)
