"""Generate the InterShapes benchmark (train/valid/test) in the InterRVOS format.

Example::

    python tools/dataset_converters/make_intershapes.py --out data/intershapes \\
        --num-videos 1000 --seed 0

``--num-videos`` is the number of training videos; valid and test get a tenth
of it each (at least one).  The same arguments give byte-identical files.
"""
import argparse
import time

from terminaltables import AsciiTable

from mmreviosa.datasets.intershapes import generate_intershapes


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
    return parser.parse_args()


def main():
    args = parse_args()
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
