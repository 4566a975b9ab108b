"""Generate the InterShapes benchmark (train/valid/test) in the InterRVOS format.

Example::

    python tools/dataset_converters/make_intershapes.py --out data/intershapes \\
        --num-videos 1000 --seed 0

``--num-videos`` is the number of training videos; valid and test get a tenth
of it each (at least one).  The same arguments give byte-identical files.

A non-empty ``--out`` is refused (old and new videos would mix in the splits)
unless ``--overwrite`` is given, which deletes ``OUT/{train,valid,test}``
first; a folder holding anything else is refused even then, so that no other
data is deleted.
"""
import argparse
import os
import os.path as osp
import shutil
import sys
import time

from terminaltables import AsciiTable

from mmreviosa.builders.intershapes import SPLITS, generate_intershapes


def parse_args():
    parser = argparse.ArgumentParser(description='Generate the InterShapes benchmark.')
    parser.add_argument('--out', required=True, help='output root; gets train/ valid/ test/')
    parser.add_argument('--num-videos', type=int, default=1000,
                        help='training videos (valid and test get N/10 each, at least 1)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--frame-size', type=int, default=64,
                        help='frame height = width in pixels (shapes scale with it)')
    parser.add_argument('--num-frames', type=int, default=8, help='frames per video (>= 4)')
    parser.add_argument('--workers', type=int, default=1, help='processes (output is the same)')
    parser.add_argument('--overwrite', action='store_true',
                        help='delete OUT/{train,valid,test} first (else a non-empty OUT is '
                        'refused)')
    return parser.parse_args()


def prepare_output(out: str, overwrite: bool) -> None:
    """Make ``out`` ready for a fresh benchmark: empty, or cleared with ``overwrite``.

    Raises:
        ValueError: ``out`` is not empty and ``overwrite`` is off, or it holds
            entries other than the split folders (those are never deleted).
    """
    entries = sorted(os.listdir(out)) if osp.isdir(out) else []
    if not entries:
        return
    if not overwrite:
        raise ValueError(f'{out} is not empty ({", ".join(entries[:5])}); new videos '
                         'would mix with the old ones. Pass --overwrite to delete its '
                         f'{"/".join(SPLITS)} folders first, or choose another --out')
    others = [e for e in entries if e not in SPLITS]
    if others:
        raise ValueError(f'{out} holds {", ".join(others[:5])} besides the splits: '
                         '--overwrite deletes only InterShapes output; choose another --out')
    for split in entries:
        shutil.rmtree(osp.join(out, split))


def main():
    args = parse_args()
    try:
        prepare_output(args.out, args.overwrite)
    except ValueError as err:
        print(f'error: {err}', file=sys.stderr)
        sys.exit(2)
    start = time.time()
    stats = generate_intershapes(args.out, args.num_videos, args.seed, args.frame_size,
                                 args.num_frames, args.workers)
    rows = [['statistic', *stats]]
    for key in stats['train']:
        if key != 'expressions_per_verb':
            rows.append([key, *(f'{v[key]:.3f}' if isinstance(v[key], float) else v[key]
                                for v in stats.values())])
    print(AsciiTable(rows).table)
    verbs = stats['train']['expressions_per_verb']
    print('train expressions per interaction: ' + ', '.join(f'{v} {n}' for v, n in verbs.items()))
    print(f'Wrote {args.out} in {time.time() - start:.1f} s')


if __name__ == '__main__':
    main()
