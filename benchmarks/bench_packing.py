"""Supervised expressions per second with one and with K expressions per training item.

For each config, the same model, optimizer and generated InterShapes videos train with
``InterRVOSDataset(expressions_per_item=1)`` and ``=K`` (default 5), the config's batch
size in items, steps of the two alternating so that both see the same machine load.
An expression is supervised when its role tokens get mask, AML and LM losses; a packed
item supervises all its turns with one MLLM forward and one SAM2 encoding of its frames.
Prints the median step time of each (the first step of each is a warm-up and not
counted), the expressions per second and their ratio.

With ``--loader`` each variant also trains through the config's own data loader (its
workers, prefetching, collation), one block of steps after the other, so the time spent
reading frames and masks counts too: what a training run sees.

Configs: ``tiny`` (configs/reviosa/reviosa_tiny_intershapes.py) and ``reviosa_1b`` (the
1B config at its real widths with random weights, as benchmarks/bench_real_scale.py builds
it; ``--llm-layers`` / ``--vision-layers`` reduce its depth on a CPU).

On a CPU::

    python benchmarks/bench_packing.py --configs tiny reviosa_1b --llm-layers 4 \\
        --vision-layers 2 --steps 3 --threads 2
"""
import argparse
import copy
import os
import os.path as osp
import statistics
import sys
import tempfile
import time

import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY = osp.join(REPO, 'configs', 'reviosa', 'reviosa_tiny_intershapes.py')
sys.path.insert(0, osp.join(REPO, 'benchmarks'))
from bench_real_scale import build_config, count_expressions, set_up  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--configs', nargs='+', default=['tiny', 'reviosa_1b'],
                        choices=['tiny', 'reviosa_1b', 'reviosa_4b'])
    parser.add_argument('--per-item', type=int, default=5, help='K of the packed runs')
    parser.add_argument('--steps', type=int, default=3, help='timed steps of each variant')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--llm-layers', type=int, help='fewer LLM layers (real configs)')
    parser.add_argument('--vision-layers', type=int, help='fewer vision layers (real configs)')
    parser.add_argument('--threads', type=int, default=None, help='torch threads on a CPU')
    parser.add_argument('--loader', action='store_true',
                        help='also time steps through the config\'s data loader')
    return parser.parse_args()


def build(name: str, args, tmp: str, data_root: str):
    """(config, model) of ``name`` on ``data_root``."""
    from mmengine.config import Config

    from mmreviosa.apis import init_model
    if name == 'tiny':
        cfg = Config.fromfile(TINY)
        cfg.train_dataloader.dataset.data_root = data_root
    else:
        from mmreviosa.testing.published_layouts import write_qwen2_5_tokenizer
        tokenizer_dir = osp.join(tmp, 'tokenizer')
        if not osp.isdir(tokenizer_dir):
            os.makedirs(tokenizer_dir)
            write_qwen2_5_tokenizer(tokenizer_dir)
        cfg = build_config(name, args, tokenizer_dir, data_root)
    with torch.device(args.device):
        model = init_model(cfg, device=args.device)
    return cfg, model


def batches(cfg, per_item: int, num: int):
    """``num`` collated batches of the config's batch size, ``per_item`` expressions each."""
    from mmengine.dataset import pseudo_collate

    from mmreviosa.registry import DATASETS
    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, expressions_per_item=per_item))
    size = cfg.train_dataloader.batch_size
    return [pseudo_collate([dataset[(i * size + j) % len(dataset)] for j in range(size)])
            for i in range(num)]


def measure(name: str, args, tmp: str, data_root: str) -> dict:
    from mmengine.optim import build_optim_wrapper
    cfg, model = build(name, args, tmp, data_root)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    runs = {k: batches(cfg, k, args.steps + 1) for k in (1, args.per_item)}
    times = {k: [] for k in runs}
    counts = {k: [] for k in runs}
    device = torch.device(args.device)
    for step in range(args.steps + 1):
        for k, batch_list in runs.items():  # alternate: both variants share the load
            batch = batch_list[step]
            if device.type == 'cuda':
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            model.train_step(batch, optim_wrapper)
            if device.type == 'cuda':
                torch.cuda.synchronize(device)
            if step:  # the first step of each is a warm-up
                times[k].append(time.perf_counter() - start)
                counts[k].append(count_expressions(batch))
            print(f'  {name} K={k} step {step}: {time.perf_counter() - start:.2f} s, '
                  f'{count_expressions(batch)} expressions', flush=True)
    result = {}
    for k in runs:
        step_s = statistics.median(times[k])
        result[k] = dict(step_s=step_s, expressions=statistics.median(counts[k]),
                         expressions_per_s=sum(counts[k]) / sum(times[k]))
        if args.loader:
            result[k]['loader_expressions_per_s'] = through_loader(
                model, optim_wrapper, cfg, k, args.steps)
            print(f'  {name} K={k} through the data loader: '
                  f'{result[k]["loader_expressions_per_s"]:.2f} expressions/s', flush=True)
    del model
    return result


def through_loader(model, optim_wrapper, cfg, per_item: int, steps: int) -> float:
    """Expressions per second of ``steps`` training steps fed by the config's data loader
    (after one warm-up step that also starts its workers)."""
    from mmengine.runner import Runner
    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg.dataset.expressions_per_item = per_item
    loader_cfg.persistent_workers = False
    loader = iter(Runner.build_dataloader(loader_cfg, seed=0))
    model.train_step(next(loader), optim_wrapper)
    start = time.perf_counter()
    expressions = 0
    for _ in range(steps):
        batch = next(loader)
        model.train_step(batch, optim_wrapper)
        expressions += count_expressions(batch)
    seconds = time.perf_counter() - start
    del loader
    return expressions / seconds


def main():
    args = parse_args()
    set_up(args.threads)
    from mmreviosa.builders.intershapes import generate_split
    print(f'device: {args.device} ({torch.get_num_threads()} threads)')
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        generate_split(tmp, 'train', num_videos=16, seed=0, progress=False)
        for name in args.configs:
            result = measure(name, args, tmp, osp.join(tmp, 'train'))
            one, packed = result[1], result[args.per_item]
            ratio = packed['expressions_per_s'] / one['expressions_per_s']
            rows.append((name, one, packed, ratio))
            print(f'{name}: K=1 {one["step_s"]:.2f} s/step, {one["expressions_per_s"]:.3g} '
                  f'expressions/s; K={args.per_item} {packed["step_s"]:.2f} s/step, '
                  f'{packed["expressions_per_s"]:.3g} expressions/s: {ratio:.2f}x', flush=True)
    print(f'\n| config | K=1 s/step | K=1 expressions/s | K={args.per_item} s/step | '
          f'K={args.per_item} expressions/s | ratio |')
    print('|---|---|---|---|---|---|')
    for name, one, packed, ratio in rows:
        print(f'| {name} | {one["step_s"]:.2f} | {one["expressions_per_s"]:.3g} | '
              f'{packed["step_s"]:.2f} | {packed["expressions_per_s"]:.3g} | {ratio:.2f}x |')
    if args.loader:
        print(f'\nthrough the data loader:\n| config | K=1 expressions/s | K={args.per_item} '
              'expressions/s | ratio |\n|---|---|---|---|')
        for name, one, packed, _ in rows:
            a, b = one['loader_expressions_per_s'], packed['loader_expressions_per_s']
            print(f'| {name} | {a:.3g} | {b:.3g} | {b / a:.2f}x |')


if __name__ == '__main__':
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    main()
