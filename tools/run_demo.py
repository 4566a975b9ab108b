"""The main job (`make demo`): generate InterShapes, train the tiny ReVIOSa, evaluate, visualise.

Leaves in the work dir: the checkpoints (with MMEngine's ``last_checkpoint``),
``metrics.json`` (test split) and ``demo.gif`` (an overlay of one test video:
actor red, target blue).  Each step is skipped when its output exists, so an
interrupted demo continues where it stopped (training resumes).

Example:
    python tools/run_demo.py --work-dir work_dirs/demo
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import List, Optional, Tuple

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs', 'reviosa', 'reviosa_tiny_intershapes.py')


def parse_args():
    parser = argparse.ArgumentParser(description='Train and evaluate the tiny ReVIOSa demo')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--data-root', default='data/intershapes',
                        help='where InterShapes is generated (train/valid/test inside)')
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--num-videos', type=int, default=None,
                        help='training videos to generate (default: the config\'s demo_num_videos)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the generated data')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='passed to tools/train.py and tools/test.py')
    return parser.parse_args()


def run(step: str, cmd: list) -> None:
    print(f'\n==> {step}\n    {" ".join(cmd)}', flush=True)
    start = time.time()
    # One torch thread in the trainer plus one data worker fills 2 cores; more threads than
    # cores makes every step many times slower. Users can override both variables.
    env = dict(os.environ)
    env.setdefault('MMREVIOSA_NUM_THREADS', '1')
    env.setdefault('OMP_NUM_THREADS', '1')
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)
    print(f'==> {step}: done in {time.time() - start:.0f} s', flush=True)


def generate_command(python: str, data_root: str, num_videos: int, seed: int
                     ) -> Optional[List[str]]:
    """The command that generates InterShapes into ``data_root``, or None when it is complete.

    Complete means both JSON files of every split exist (they are written last);
    anything less (a fresh clone, or a generation that was interrupted) is
    generated again from scratch with ``--overwrite``, so no stale video mixes in.
    """
    from mmreviosa.builders.intershapes import SPLITS
    complete = all(osp.isfile(osp.join(data_root, split, name)) for split in SPLITS
                   for name in ('meta_expressions.json', 'mask_dict.json'))
    if complete:
        return None
    return [python, 'tools/dataset_converters/make_intershapes.py', '--out', data_root,
            '--num-videos', str(num_videos), '--seed', str(seed), '--overwrite']


def showcase_expression(meta_file: str) -> Tuple[str, dict]:
    """(video id, expression) the demo GIF shows: the first interaction (videos sorted by id,
    expressions by id) whose actor is *ambiguous by appearance* (another shape of its colour
    and shape is in the video), which only motion or the interaction tells apart; else the
    first interaction, else the first expression."""
    from mmreviosa.builders.intershapes import appearance_ambiguous
    with open(meta_file) as f:
        videos = json.load(f)['videos']
    candidates = [(video_id, exp) for video_id in sorted(videos)
                  for _, exp in sorted(videos[video_id]['expressions'].items(),
                                       key=lambda kv: int(kv[0]))]
    interactions = [(v, e) for v, e in candidates if e.get('target_anno_id')]
    ambiguous = [(v, e) for v, e in interactions
                 if 'objects' in videos[v] and appearance_ambiguous(videos[v]['objects'],
                                                                    e['obj_id'])]
    return (ambiguous or interactions or candidates)[0]


def main():
    args = parse_args()
    from mmengine.config import Config
    cfg = Config.fromfile(args.config)
    python = sys.executable
    work_dir = osp.abspath(args.work_dir)
    data_root = osp.abspath(args.data_root)
    num_videos = args.num_videos or cfg.get('demo_num_videos', 1000)
    data_opts = [f'train_dataloader.dataset.data_root={data_root}/train',
                 f'val_dataloader.dataset.data_root={data_root}/valid',
                 f'test_dataloader.dataset.data_root={data_root}/test']
    opts = ['--cfg-options'] + data_opts + list(args.cfg_options)
    start = time.time()

    generate = generate_command(python, data_root, num_videos, args.seed)
    if generate is not None:
        run('generate InterShapes', generate)

    last = osp.join(work_dir, 'last_checkpoint')
    # No validation pass: the test split is evaluated right after, and time counts here.
    train_cmd = [python, 'tools/train.py', args.config, '--work-dir', work_dir, '--no-validate',
                 *opts]
    if osp.exists(last):
        train_cmd.append('--resume')  # continues, or returns at once when training finished
    run('train the tiny ReVIOSa', train_cmd)

    with open(last) as f:
        checkpoint = f.read().strip()
    run('evaluate on the test split', [
        python, 'tools/test.py', args.config, checkpoint, '--work-dir', work_dir, *opts])

    video_id, exp = showcase_expression(osp.join(data_root, 'test', 'meta_expressions.json'))
    gif = osp.join(work_dir, 'demo.gif')
    run('visualise one test video', [
        python, 'demo/video_demo.py', osp.join(data_root, 'test', 'JPEGImages', video_id),
        exp['exp'], args.config, checkpoint, '--out', gif])

    with open(osp.join(work_dir, 'metrics.json')) as f:
        metrics = json.load(f)
    from terminaltables import AsciiTable
    rows = [['metric', 'value']] + [[k, f'{v:.2f}'] for k, v in metrics.items()]
    print('\n' + AsciiTable(rows, title='InterShapes test split').table)
    print(f'\nmetrics:    {osp.join(work_dir, "metrics.json")}')
    print(f'checkpoint: {checkpoint}')
    print(f'overlay:    {gif}  (actor red, target blue)')
    print(f'total time: {time.time() - start:.0f} s')


if __name__ == '__main__':
    os.environ.setdefault('PYTHONUNBUFFERED', '1')
    main()
