"""Batches (generated InterShapes items, chats) and model configs for tests of the tiny ReVIOSa."""
import copy
from contextlib import contextmanager
from typing import Iterator, Sequence, Tuple

import torch
from mmengine.config import ConfigDict
from mmengine.dataset import pseudo_collate

from mmreviosa.registry import DATASETS

__all__ = ['intershapes_batch', 'with_real_recipe_freezing', 'chat_batch', 'one_torch_thread']


def intershapes_batch(cfg, root: str, train: bool = True,
                      which: Sequence[str] = ('with_target', 'without')) -> dict:
    """A collated batch of one interaction item and one without, from a split folder.

    Args:
        cfg: a config with ``train_pipeline`` / ``test_pipeline``.
        root: the split folder (``InterRVOSDataset.data_root``).
        train: the training pipeline (answers, sampled frames) or the test one.
        which: items in batch order, ``'with_target'`` and / or ``'without'``.
    """
    pipeline = cfg.train_pipeline if train else cfg.test_pipeline
    dataset = DATASETS.build(dict(type='InterRVOSDataset', data_root=root, pipeline=pipeline,
                                  test_mode=not train))
    items = [dataset.get_data_info(i) for i in range(len(dataset))]
    index = dict(with_target=next(i for i, d in enumerate(items) if d['target_anno_id']),
                 without=next(i for i, d in enumerate(items) if not d['target_anno_id']))
    return pseudo_collate([dataset[index[w]] for w in which])


def with_real_recipe_freezing(model_cfg) -> ConfigDict:
    """The tiny model with the real recipe's frozen parts: LoRA LLM, frozen encoders."""
    model_cfg = copy.deepcopy(model_cfg)
    model_cfg.mllm.update(lora=dict(type='LoraConfig', r=4, lora_alpha=8), freeze_llm=True,
                          freeze_vision_encoder=True)
    model_cfg.sam2_head.update(freeze_image_encoder=True)
    return model_cfg


def chat_batch(tokenizer, prompts: Sequence[str], answer: str, image_size: int,
               num_frames: int, left: bool = False) -> Tuple[torch.Tensor, ...]:
    """A padded batch of chat prompts, each followed by ``answer`` and ``<|im_end|>``.

    Args:
        tokenizer: the role tokenizer.
        prompts: one prompt text per row, ending with the assistant header and
            holding the image blocks of ``num_frames`` frames.
        answer: the reply of every row; labels are set on it only.
        image_size: side S of the random frames.
        num_frames: frames per row.
        left: pad on the left (the generation layout) instead of the right.

    Returns:
        (input_ids, attention_mask, labels, pixel_values): (B, L) long each,
        labels -100 off the answer; pixel_values (B * num_frames, 3, S, S)
        from seed 1.
    """
    rows, label_rows = [], []
    for text in prompts:
        prompt = tokenizer(text, add_special_tokens=False)['input_ids']
        reply = tokenizer(answer + '<|im_end|>', add_special_tokens=False)['input_ids']
        rows.append(prompt + reply)
        label_rows.append([-100] * len(prompt) + reply)
    length = max(map(len, rows))
    input_ids = torch.full((len(rows), length), tokenizer.pad_token_id)
    labels = torch.full((len(rows), length), -100)
    mask = torch.zeros(len(rows), length, dtype=torch.long)
    for i, (row, label_row) in enumerate(zip(rows, label_rows)):
        span = slice(length - len(row), length) if left else slice(0, len(row))
        input_ids[i, span] = torch.tensor(row)
        labels[i, span] = torch.tensor(label_row)
        mask[i, span] = 1
    torch.manual_seed(1)
    pixel_values = torch.randn(len(rows) * num_frames, 3, image_size, image_size)
    return input_ids, mask, labels, pixel_values


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run the block on one torch thread (tests share few cores), then restore the count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
