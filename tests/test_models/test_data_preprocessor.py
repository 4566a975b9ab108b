import torch

from mmreviosa.fileio import IMAGENET_MEAN_255 as IMAGENET_MEAN
from mmreviosa.fileio import IMAGENET_STD_255 as IMAGENET_STD
from mmreviosa.models.data_preprocessor import IGNORE_INDEX, InterRVOSDataPreprocessor


def _item(n_tokens, k, t, with_labels=True):
    item = dict(input_ids=torch.arange(1, n_tokens + 1),
                mllm_pixels=torch.full((k, 3, 4, 4), 255, dtype=torch.uint8),
                sam_pixels=torch.zeros((t, 3, 6, 6), dtype=torch.uint8))
    if with_labels:
        item['labels'] = torch.arange(1, n_tokens + 1)
    return item


def test_training_batch_is_right_padded_and_normalised():
    pre = InterRVOSDataPreprocessor(pad_token_id=0)
    out = pre(dict(inputs=[_item(3, 2, 4), _item(5, 2, 4)], data_samples=[None, None]))
    inputs = out['inputs']
    assert inputs['input_ids'].tolist() == [[1, 2, 3, 0, 0], [1, 2, 3, 4, 5]]
    assert inputs['attention_mask'].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert inputs['labels'][0].tolist() == [1, 2, 3, IGNORE_INDEX, IGNORE_INDEX]
    assert inputs['mllm_pixels'].shape == (4, 3, 4, 4)
    assert inputs['sam_pixels'].shape == (8, 3, 6, 6)
    assert inputs['num_key_frames'] == [2, 2] and inputs['num_frames'] == [4, 4]
    # (255 - mean) / std per channel, and (0 - mean) / std
    expected = [(255 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)]
    assert torch.allclose(inputs['mllm_pixels'][0, :, 0, 0], torch.tensor(expected))
    expected = [-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)]
    assert torch.allclose(inputs['sam_pixels'][0, :, 0, 0], torch.tensor(expected))


def test_generation_batch_is_left_padded():
    pre = InterRVOSDataPreprocessor(pad_token_id=9)
    out = pre(dict(inputs=[_item(2, 1, 3, False), _item(4, 1, 5, False)], data_samples=None))
    inputs = out['inputs']
    assert inputs['labels'] is None
    assert inputs['input_ids'].tolist() == [[9, 9, 1, 2], [1, 2, 3, 4]]
    assert inputs['attention_mask'].tolist() == [[0, 0, 1, 1], [1, 1, 1, 1]]
    assert inputs['num_frames'] == [3, 5]


def test_accepts_pseudo_collate_output():
    from mmengine.dataset import pseudo_collate
    pre = InterRVOSDataPreprocessor(pad_token_id=0)
    batch = pseudo_collate([dict(inputs=_item(3, 2, 4)), dict(inputs=_item(5, 2, 4))])
    out = pre(batch)['inputs']
    assert out['input_ids'].tolist() == [[1, 2, 3, 0, 0], [1, 2, 3, 4, 5]]
    assert out['sam_pixels'].shape == (8, 3, 6, 6)
