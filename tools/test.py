"""Evaluate a checkpoint; print the metrics table and write <work_dir>/metrics.json.

Example:
    python tools/test.py configs/reviosa/reviosa_tiny_intershapes.py work_dirs/demo/iter_2000.pth
    python tools/test.py CONFIG CKPT --cfg-options test_dataloader.dataset.data_root=data/x/valid
"""
import argparse
import json
import math
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction
from mmengine.dist import is_main_process
from mmengine.runner import Runner

from mmreviosa.engine import load_trained_checkpoint, setup_cpu_distributed
from mmreviosa.utils import register_all_modules, setup_runtime


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and evaluate) an mmreviosa model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'checkpoint', help='checkpoint file, or the folder a DeepSpeed (ZeRO-2) config saves')
    parser.add_argument(
        '--amp', action='store_true',
        help='bf16 autocast; without it every module computes in its weights\' dtype '
             '(bf16 frozen weights, float32 trained modules in the real configs)')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics.json')
    parser.add_argument('--out', help='also write the metrics JSON to this path')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing --out file')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, e.g. test_dataloader.dataset.data_root=DIR')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    # Checked before the evaluation: --out may hold the metrics of another run.
    if args.out and osp.exists(args.out) and not args.overwrite:
        parser.error(f'{args.out} exists; pass --overwrite to replace it')
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def _to_builtin(value):
    """Metric values as plain JSON numbers; NaN (an empty group) becomes null."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return value
    return None if math.isnan(value) else value


def main():
    args = parse_args()
    register_all_modules()
    setup_runtime()
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    setup_cpu_distributed(cfg)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = None
    cfg.resume = False

    # A plain Runner for every config, ZeRO-2 and FSDP ones included: testing needs no
    # sharding, and load_trained_checkpoint reads what their strategies write.
    runner = Runner.from_cfg(cfg)
    # Strict: a checkpoint that does not fit the config must fail, not test a half-loaded model.
    # Plain data only: nothing in the file is run.
    load_trained_checkpoint(runner.model, args.checkpoint, strict=True, logger=runner.logger)
    # bf16, not MMEngine's TestLoop(fp16=True): Qwen2.5 activations overflow float16.
    device_type = 'cuda' if torch.cuda.is_available() else 'cpu'
    with torch.autocast(device_type, dtype=torch.bfloat16, enabled=args.amp):
        metrics = runner.test()
    if is_main_process():
        flat = {k: _to_builtin(v) for k, v in metrics.items()}
        paths = [osp.join(cfg.work_dir, 'metrics.json')] + ([args.out] if args.out else [])
        for path in paths:
            os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
            with open(path, 'w') as f:
                json.dump(flat, f, indent=2)
        runner.logger.info(f'metrics written to {paths[0]}')


if __name__ == '__main__':
    main()
