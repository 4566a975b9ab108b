"""Count the parameters of a model config on the meta device (no weights are read).

Prints a table with rows ``mllm`` (without LoRA/token adapters), ``sam2``,
``projector`` and ``total``, and the number of parameters each trains.
Local pretrained paths in the config need not exist: the MLLM is built from
``mllm_preset`` (or the ``config`` it already has) and SAM2 without its
checkpoint.

Example:
    python tools/analysis_tools/count_params.py configs/reviosa/reviosa_1b.py
"""
import argparse
import copy

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from terminaltables import AsciiTable


def parse_args():
    parser = argparse.ArgumentParser(description='Count parameters of a config on meta')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def meta_model_cfg(cfg: Config) -> dict:
    """The model config with every file read replaced by the architecture it names."""
    model_cfg = copy.deepcopy(cfg.model)
    mllm = model_cfg.mllm
    if mllm.get('pretrained') is not None:
        preset = cfg.get('mllm_preset')
        if preset is None:
            raise KeyError(f'{cfg.filename}: model.mllm.pretrained is set, so counting without '
                           'reading it needs a top-level `mllm_preset` (e.g. internvl2_5_1b)')
        mllm.pretrained = None
        mllm.config = dict(preset=preset)
        # The tokenizer lives in the pretrained folder; the preset's vocabulary is used instead.
        mllm.tokenizer = None
    model_cfg.sam2_head.checkpoint = None
    return model_cfg


def count(module, trainable_only=False, exclude=()) -> int:
    return sum(p.numel() for n, p in module.named_parameters()
               if (p.requires_grad or not trainable_only) and not any(k in n for k in exclude))


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    from mmreviosa.registry import MODELS
    from mmreviosa.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'mmreviosa'))
    with torch.device('meta'):
        model = MODELS.build(meta_model_cfg(cfg))
    adapters = ('lora_', 'trainable_tokens_')
    rows = [['part', 'parameters', 'trainable']]
    parts = [('mllm', model.mllm), ('sam2', model.sam2_head), ('projector', model.projector)]
    total = trainable = 0
    for name, module in parts:
        n, t = count(module, exclude=adapters), count(module, trainable_only=True)
        total, trainable = total + n, trainable + t
        rows.append([name, f'{n:,} ({n / 1e6:.1f}M)', f'{t:,}'])
    rows.append(['total', f'{total:,} ({total / 1e6:.1f}M)', f'{trainable:,}'])
    print(AsciiTable(rows, title=cfg.filename).table)
    print('mllm excludes the LoRA / trainable-token adapters; "trainable" includes them.')


if __name__ == '__main__':
    main()
