"""Peak memory of SAM2 video inference against the video length (T).

Runs ``SAM2Head.predict_video`` (frame-by-frame encoding, memory entries
dropped once no later frame reads them) on random SAM2.1 weights at the real
input size (1024 x 1024) for videos of ``--frames`` lengths, and, for the
shortest one, the all-frames-at-once path the head used before (every frame
through the image encoder in one batch, then memory propagation over the
stored features: ``extract_features`` + ``decode_video``), side by side in one
process.

Memory is :class:`mmreviosa.testing.PeakTensorMemory`: the most bytes that
tensors created during the call held at one time (exact, repeatable, on any
device). The inputs (the normalised frames, ``T x 12 MiB`` in float32) exist
before the call and are listed apart; the output, ``R x T`` boolean masks at
the original frame size, is created during the call and counted (its size is
listed too).

Usage::

    python benchmarks/bench_test_memory.py [--frames 16 128] [--model-cfg
        configs/sam2.1/sam2.1_hiera_l.yaml] [--encoder-dtype bfloat16] [--threads 2]
"""
import argparse
import json
import time

import torch

from mmreviosa.models.heads.sam2_head import SAM2Head
from mmreviosa.models.heads.sam2_video import logits_to_masks
from mmreviosa.testing import PeakTensorMemory

MIB = 2 ** 20


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--frames', type=int, nargs='+', default=[16, 128])
    parser.add_argument('--model-cfg', default='configs/sam2.1/sam2.1_hiera_l.yaml')
    parser.add_argument('--encoder-dtype', default='bfloat16',
                        help="image encoder dtype, as the real configs set it ('none': as built)")
    parser.add_argument('--roles', type=int, default=2)
    parser.add_argument('--key-frames', type=int, default=5)
    parser.add_argument('--frame-size', type=int, nargs=2, default=[480, 854],
                        help='H W of the original frames (size of the output masks)')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--skip-all-at-once', action='store_true')
    parser.add_argument('--out', help='also write the figures as JSON')
    return parser.parse_args()


def _inputs(head, num_frames, num_key, num_roles):
    generator = torch.Generator().manual_seed(num_frames)
    size = head.image_size
    pixels = torch.randn((num_frames, 3, size, size), generator=generator)
    key_frame_inds = torch.linspace(0, num_frames - 1, min(num_key, num_frames)).round().long()
    prompts = torch.randn((len(key_frame_inds), num_roles, head.prompt_dim),
                          generator=generator)
    return pixels, key_frame_inds.tolist(), prompts


def _output_mib(num_roles, num_frames, shape):
    """Size of the boolean masks ``predict_video`` returns (counted in the peak)."""
    return num_roles * num_frames * shape[0] * shape[1] / MIB


def _measure(fn):
    with PeakTensorMemory() as memory:
        start = time.perf_counter()
        fn()
        seconds = time.perf_counter() - start
    return memory.peak_bytes, seconds


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    encoder_dtype = None if args.encoder_dtype == 'none' else args.encoder_dtype
    head = SAM2Head(model_cfg=args.model_cfg, image_encoder_dtype=encoder_dtype,
                    use_memory=True).eval()
    shape = tuple(args.frame_size)
    rows = []
    for num_frames in args.frames:
        pixels, keys, prompts = _inputs(head, num_frames, args.key_frames, args.roles)
        peak, seconds = _measure(lambda: head.predict_video(pixels, keys, prompts, shape))
        rows.append(dict(path='frame by frame', frames=num_frames, peak_mib=peak / MIB,
                         inputs_mib=pixels.nbytes / MIB,
                         output_mib=_output_mib(args.roles, num_frames, shape), seconds=seconds,
                         frames_per_s=num_frames / seconds))
        print(f'measured: {rows[-1]}', flush=True)
    if not args.skip_all_at_once:
        num_frames = min(args.frames)
        pixels, keys, prompts = _inputs(head, num_frames, args.key_frames, args.roles)

        def all_at_once():
            with torch.no_grad():
                logits = head.decode_video(head.extract_features(pixels), keys, prompts)
                return logits_to_masks(logits, shape)

        peak, seconds = _measure(all_at_once)
        rows.append(dict(path='all at once (before)', frames=num_frames, peak_mib=peak / MIB,
                         inputs_mib=pixels.nbytes / MIB,
                         output_mib=_output_mib(args.roles, num_frames, shape), seconds=seconds,
                         frames_per_s=num_frames / seconds))

    print(f'SAM2 {args.model_cfg}, {head.image_size}^2 input, encoder '
          f'{args.encoder_dtype}, {args.roles} roles, {args.key_frames} key frames, masks '
          f'{shape[0]}x{shape[1]}, {args.threads} threads')
    print(f'{"path":<22}{"T":>5}{"peak MiB":>11}{"of it output":>14}{"inputs MiB":>12}{"s":>9}'
          f'{"frames/s":>10}')
    for row in rows:
        print(f'{row["path"]:<22}{row["frames"]:>5}{row["peak_mib"]:>11.1f}'
              f'{row["output_mib"]:>14.1f}{row["inputs_mib"]:>12.1f}{row["seconds"]:>9.1f}'
              f'{row["frames_per_s"]:>10.2f}')
    lazy = [r for r in rows if r['path'] == 'frame by frame']
    ratio = lazy[-1]['peak_mib'] / lazy[0]['peak_mib']
    print(f'peak ratio T={lazy[-1]["frames"]} / T={lazy[0]["frames"]} (frame by frame): '
          f'{ratio:.3f}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(rows=rows, ratio=ratio, args=vars(args)), f, indent=2)


if __name__ == '__main__':
    main()
