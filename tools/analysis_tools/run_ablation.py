"""Train and evaluate the toy-scale ablation with several seeds; write the table to model-zoo.md.

Rows (the paper's ablation on InterRVOS-127K, here at toy scale on InterShapes):
    (i)   single [SEG]                      ablation/reviosa_tiny_single_seg.py
    (i')  single [SEG], zero-shot target    (i)'s checkpoint, prompted for the target
    (ii)  role tokens                       ablation/reviosa_tiny_role_tokens.py
    (iii) single [SEG] + AML                ablation/reviosa_tiny_single_seg_aml.py
    (iv)  role tokens + AML (ReVIOSa)       ablation/reviosa_tiny_role_tokens_aml.py
Each row is trained with every seed (model initialisation and data order; the data are the
same), evaluated on the test split, and reported as mean ± std over seeds.  Runs whose
metrics.json exists are reused, so an interrupted ablation continues.

Example:
    python tools/analysis_tools/run_ablation.py --data-root data/intershapes \
        --seeds 0 1 2 --max-iters 1500 --jobs 2 --update-model-zoo
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ABLATION = 'configs/reviosa/ablation'
ROWS = [
    # name, train config, test config (None: the train config)
    ('single [SEG]', 'reviosa_tiny_single_seg.py', None),
    ('single [SEG], zero-shot target', 'reviosa_tiny_single_seg.py',
     'reviosa_tiny_single_seg_zeroshot_target.py'),
    ('role tokens', 'reviosa_tiny_role_tokens.py', None),
    ('single [SEG] + AML', 'reviosa_tiny_single_seg_aml.py', None),
    ('role tokens + AML (ReVIOSa)', 'reviosa_tiny_role_tokens_aml.py', None),
]
KEYS = ['actor_JF', 'target_JF', 'rvos_JF', 'interaction_acc']
BEGIN, END = '<!-- ablation:begin -->', '<!-- ablation:end -->'


def parse_args():
    parser = argparse.ArgumentParser(description='Toy-scale ablation of ReVIOSa')
    parser.add_argument('--data-root', default='data/intershapes')
    parser.add_argument('--work-dir', default='work_dirs/ablation')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--max-iters', type=int, default=None,
                        help='training iterations (default: the config\'s)')
    parser.add_argument('--jobs', type=int, default=2, help='runs in parallel (1 thread each)')
    parser.add_argument('--update-model-zoo', action='store_true',
                        help='write the table into model-zoo.md')
    return parser.parse_args()


def data_options(data_root):
    return [f'train_dataloader.dataset.data_root={data_root}/train',
            f'test_dataloader.dataset.data_root={data_root}/test']


def run(cmd, log_path):
    env = dict(os.environ, MMREVIOSA_NUM_THREADS='1', OMP_NUM_THREADS='1')
    with open(log_path, 'a') as log:
        subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)


def train_and_test(args, train_cfg, test_cfgs, seed):
    """Train ``train_cfg`` with ``seed``; evaluate it with each test config. Returns metrics."""
    name = osp.splitext(train_cfg)[0]
    work_dir = osp.join(osp.abspath(args.work_dir), f'{name}_seed{seed}')
    os.makedirs(work_dir, exist_ok=True)
    log = osp.join(work_dir, 'run.log')
    options = data_options(osp.abspath(args.data_root)) + [f'randomness.seed={seed}']
    if args.max_iters:
        options += [f'train_cfg.max_iters={args.max_iters}',
                    f'param_scheduler.1.end={args.max_iters}']
    last = osp.join(work_dir, 'last_checkpoint')
    if not osp.exists(osp.join(work_dir, 'train_done')):
        cmd = [sys.executable, 'tools/train.py', osp.join(ABLATION, train_cfg), '--work-dir',
               work_dir, '--cfg-options', *options]
        run(cmd + (['--resume'] if osp.exists(last) else []), log)
        open(osp.join(work_dir, 'train_done'), 'w').close()
    with open(last) as f:
        checkpoint = f.read().strip()
    results = {}
    for test_cfg in test_cfgs:
        out = osp.join(work_dir, f'metrics_{osp.splitext(test_cfg)[0]}.json')
        if not osp.exists(out):
            run([sys.executable, 'tools/test.py', osp.join(ABLATION, test_cfg), checkpoint,
                 '--work-dir', work_dir, '--out', out, '--cfg-options', *options], log)
        with open(out) as f:
            results[test_cfg] = {k.split('/')[-1]: v for k, v in json.load(f).items()}
    return results


def format_table(per_row, seeds, args):
    lines = [
        f'Toy-scale ablation on InterShapes (test split), mean ± std over seeds {seeds}; '
        f'reproduce with `python tools/analysis_tools/run_ablation.py --data-root '
        f'{args.data_root} --seeds {" ".join(map(str, seeds))}'
        + (f' --max-iters {args.max_iters}' if args.max_iters else '') + '`.',
        '',
        '| row | Actor J&F | Target J&F | RVOS J&F | interaction acc. |',
        '|---|---|---|---|---|',
    ]
    for name, values in per_row:
        cells = []
        for key in KEYS:
            vals = np.array([v[key] for v in values], dtype=float)
            cells.append('n/a' if np.isnan(vals).all() else
                         f'{np.nanmean(vals):.1f} ± {np.nanstd(vals):.1f}')
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main():
    args = parse_args()
    # One training per train config and seed; the zero-shot row reuses (i)'s checkpoint.
    jobs = {}
    for _, train_cfg, test_cfg in ROWS:
        jobs.setdefault(train_cfg, []).append(test_cfg or train_cfg)
    tasks = [(cfg, tests, seed) for cfg, tests in jobs.items() for seed in args.seeds]
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = {(cfg, seed): pool.submit(train_and_test, args, cfg, tests, seed)
                   for cfg, tests, seed in tasks}
        outcome = {key: f.result() for key, f in futures.items()}

    per_row = []
    for name, train_cfg, test_cfg in ROWS:
        test_cfg = test_cfg or train_cfg
        values = []
        for seed in args.seeds:
            metrics = outcome[(train_cfg, seed)][test_cfg]
            row = {k: metrics.get(k, float('nan')) for k in KEYS}
            if test_cfg != train_cfg:  # zero-shot probing scores only the target
                row = {k: (v if k.startswith('target') else float('nan')) for k, v in row.items()}
            if 'single' in train_cfg:
                # One token cannot express the interaction, and the single-token model has no
                # target prediction of its own: its target is the zero-shot row.
                row['interaction_acc'] = float('nan')
                if test_cfg == train_cfg:
                    row['target_JF'] = float('nan')
            values.append(row)
        per_row.append((name, values))
    table = format_table(per_row, args.seeds, args)
    print(table)
    if args.update_model_zoo:
        path = osp.join(ROOT, 'model-zoo.md')
        with open(path) as f:
            text = f.read()
        if BEGIN not in text or END not in text:
            raise ValueError(f'{path} has no {BEGIN} ... {END} block to replace')
        head, rest = text.split(BEGIN, 1)
        text = head + BEGIN + '\n' + table + '\n' + END + rest.split(END, 1)[1]
        with open(path, 'w') as f:
            f.write(text)
        print(f'updated {path}')


if __name__ == '__main__':
    main()
