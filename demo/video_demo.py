"""Segment a video for an expression; write the answer and an overlay GIF/MP4.

The actor is drawn in red and the target (when the model finds an interaction)
in blue.

Example:
    python demo/video_demo.py data/intershapes/test/JPEGImages/00000 \
        "the red circle pushing the blue square" \
        configs/reviosa/reviosa_tiny_intershapes.py work_dirs/demo/iter_3000.pth --out demo.gif
"""
import argparse
import os.path as osp
import sys

import numpy as np

from mmreviosa.apis import inference_video, init_model, read_video
from mmreviosa.fileio import check_expression
from mmreviosa.text import display_answer
from mmreviosa.visualization import overlay_masks, write_gif, write_video


def parse_args():
    parser = argparse.ArgumentParser(description='ReVIOSa video demo')
    parser.add_argument('video', help='a folder of frames or a video file')
    parser.add_argument('expression', help='the referring expression')
    parser.add_argument('config', help='model config')
    parser.add_argument('checkpoint', help='checkpoint')
    parser.add_argument('--out', default='demo.gif', help='output .gif or .mp4')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--fps', type=float, default=4)
    return parser.parse_args()


def main():
    args = parse_args()
    # Bad input fails before the model is built, as one error line (the dataset's checks).
    try:
        check_expression(args.expression, 'expression')
        frames = read_video(args.video)
    except (ValueError, OSError) as err:
        print(f'error: {err}', file=sys.stderr)
        sys.exit(2)
    model = init_model(args.config, args.checkpoint, device=args.device)
    prediction = inference_video(model, list(frames), args.expression)
    answer = display_answer(prediction.text, model.mllm.tokenizer.pad_token)
    caption = f'{args.expression} -> {answer}'
    overlay = overlay_masks(frames, prediction.actor_masks, prediction.target_masks)
    # Frames of small videos are upscaled so the caption stays readable.
    if overlay.shape[1] < 256:
        scale = int(np.ceil(256 / overlay.shape[1]))
        overlay = overlay.repeat(scale, axis=1).repeat(scale, axis=2)
    writer = write_gif if osp.splitext(args.out)[1].lower() == '.gif' else write_video
    writer(overlay, args.out, fps=args.fps, caption=caption)
    print(f'answer: {answer}')
    print(f'target: {"yes" if prediction.target_masks is not None else "none (no interaction)"}')
    print(f'written: {args.out}')


if __name__ == '__main__':
    main()
