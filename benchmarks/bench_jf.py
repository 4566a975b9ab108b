"""Speed of the exact J/F against a plain full-frame implementation.

Prints frames/s of ``mmreviosa.evaluation.functional.region_and_contour``
and of the straightforward implementation of the DAVIS-2017 definitions in
``mmreviosa.evaluation.functional.reference`` (numpy + cv2, full frames), for
two mask regimes, and checks that both give bit-identical values:

- ``typical``: a referring-style video, one object covering 5-20% of the
  frame, moving and changing shape; the prediction is the ground truth
  shifted, grown or shrunk, with a few false-positive blobs.
- ``noisy``: independent random pixels (half on) over the whole frame.

Times are CPU seconds of this process (one thread), so that other load on a
shared machine affects them less than wall-clock time.

Usage::

    python benchmarks/bench_jf.py [--frames 32] [--repeats 3] \
        [--height 480] [--width 854] [--seed 0]
"""
import argparse
import time
from typing import Callable, Tuple

import cv2
import numpy as np

from mmreviosa.evaluation.functional import region_and_contour
from mmreviosa.evaluation.functional.reference import (reference_contour_accuracy,
                                                       reference_region_similarity)


def typical_masks(rng: np.random.Generator, num_frames: int, height: int,
                  width: int) -> Tuple[np.ndarray, np.ndarray]:
    """A moving, deforming ellipse and an imperfect prediction of it."""
    gt = np.zeros((num_frames, height, width), np.uint8)
    pred = np.zeros_like(gt)
    area = rng.uniform(0.05, 0.2) * height * width
    aspect = rng.uniform(0.5, 2.0)
    centre = np.array([width / 2, height / 2])
    velocity = rng.uniform(-6, 6, size=2)
    for t in range(num_frames):
        scale = 1 + 0.15 * np.sin(t / 5)
        semi_y = np.sqrt(area * scale / np.pi / aspect)
        semi_x = semi_y * aspect
        centre = np.clip(centre + velocity, [semi_x, semi_y],
                         [width - semi_x, height - semi_y])
        angle = 10 * t
        cv2.ellipse(gt[t], (int(centre[0]), int(centre[1])),
                    (int(semi_x), int(semi_y)), angle, 0, 360, 1, -1)
        shift = rng.integers(-6, 7, size=2)
        cv2.ellipse(pred[t], (int(centre[0] + shift[0]),
                              int(centre[1] + shift[1])),
                    (int(semi_x * rng.uniform(0.9, 1.1)),
                     int(semi_y * rng.uniform(0.9, 1.1))),
                    angle + rng.uniform(-10, 10), 0, 360, 1, -1)
        for _ in range(rng.integers(0, 3)):
            blob = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            cv2.circle(pred[t], blob, int(rng.integers(3, 15)), 1, -1)
    return pred.astype(bool), gt.astype(bool)


def noisy_masks(rng: np.random.Generator, num_frames: int, height: int,
                width: int) -> Tuple[np.ndarray, np.ndarray]:
    """Independent random pixels over the whole frame."""
    shape = (num_frames, height, width)
    return rng.random(shape) < 0.5, rng.random(shape) < 0.5


def reference_jf(pred: np.ndarray, gt: np.ndarray):
    return (reference_region_similarity(pred, gt),
            reference_contour_accuracy(pred, gt))


def best_cpu_seconds(function: Callable, repeats: int, *args):
    """Lowest CPU time over ``repeats`` runs, and the last result."""
    best, result = float('inf'), None
    for _ in range(repeats):
        start = time.process_time()
        result = function(*args)
        best = min(best, time.process_time() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--frames', type=int, default=32)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--width', type=int, default=854)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    rng = np.random.default_rng(args.seed)
    print(f'{args.frames} frames of {args.height}x{args.width}, best of '
          f'{args.repeats}, CPU time, one thread')
    header = (f'{"regime":<9}{"ours f/s":>10}{"reference f/s":>15}'
              f'{"speed-up":>10}  identical (J, F)')
    print(header)
    for name, generate in (('typical', typical_masks), ('noisy',
                                                        noisy_masks)):
        pred, gt = generate(rng, args.frames, args.height, args.width)
        ours_s, (ours_j, ours_f) = best_cpu_seconds(region_and_contour,
                                                    args.repeats, pred, gt)
        ref_s, (ref_j, ref_f) = best_cpu_seconds(reference_jf, args.repeats,
                                                 pred, gt)
        identical = (np.array_equal(ours_j, ref_j),
                     np.array_equal(ours_f, ref_f))
        print(f'{name:<9}{args.frames / ours_s:>10.1f}'
              f'{args.frames / ref_s:>15.1f}{ref_s / ours_s:>9.1f}x  '
              f'{identical} (max |diff| J {np.max(np.abs(ours_j - ref_j)):g},'
              f' F {np.max(np.abs(ours_f - ref_f)):g})')
        if not all(identical):
            raise SystemExit(f'{name}: values differ from the reference')


if __name__ == '__main__':
    main()
