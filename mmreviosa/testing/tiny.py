"""Batches of generated InterShapes items and model configs for tests of the tiny ReVIOSa."""
import copy
from typing import Sequence

from mmengine.config import ConfigDict
from mmengine.dataset import pseudo_collate

from mmreviosa.registry import DATASETS

__all__ = ['intershapes_batch', 'with_real_recipe_freezing']


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
