"""Convert VidOR relation annotations to the InterRVOS format (actor/target expressions).

Example::

    python tools/dataset_converters/vidor_to_interrvos.py \\
        --vidor-root data/vidor --split training --out data/interrvos_vidor/train \\
        --mask-source sam2 --sam2-checkpoint checkpoints/sam2.1_hiera_large.pt

Interrupted runs resume: rerun the same command.  See ``mmreviosa.builders.vidor``.
"""
import argparse
import logging
import sys

from mmreviosa.builders.vidor.backends import load_llm_config
from mmreviosa.builders.vidor.pipeline import (DEFAULT_FPS, DEFAULT_SAM2_CONFIG, ConvertOptions,
                                               convert)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert VidOR relations to InterRVOS actor/target expressions.')
    parser.add_argument('--vidor-root', required=True,
                        help='VidOR root with annotation/<split>/<group>/<id>.json and '
                             'video/<group>/<id>.mp4')
    parser.add_argument('--split', required=True, choices=['training', 'validation'])
    parser.add_argument('--out', required=True, help='output split folder')
    parser.add_argument('--backend', default='template', choices=['template', 'openai', 'hf'],
                        help='language backend (default: template, offline)')
    parser.add_argument('--llm-config', help='JSON or YAML file (plain data) with the settings '
                                             'of the openai / hf backend')
    parser.add_argument('--mask-source', default='sam2', choices=['sam2', 'box'],
                        help='SAM2 prompted with the VidOR boxes, or the filled boxes')
    parser.add_argument('--fps', type=float, default=DEFAULT_FPS,
                        help=f'frames per second to keep (default {DEFAULT_FPS}; 0: all)')
    parser.add_argument('--workers', type=int, default=1, help='parallel processes')
    parser.add_argument('--sam2-cfg', default=DEFAULT_SAM2_CONFIG,
                        help='SAM2 hydra config name (default: %(default)s)')
    parser.add_argument('--sam2-checkpoint', help='local SAM2.1 checkpoint')
    parser.add_argument('--sam2-random-init', action='store_true',
                        help='allow SAM2 without a checkpoint (random weights; testing only)')
    parser.add_argument('--sam2-override', action='append', default=[],
                        help='extra hydra override for SAM2 (repeatable)')
    parser.add_argument('--sam2-prompt-every', type=int, default=1,
                        help='box prompt on every N-th sampled frame with a box (default 1)')
    parser.add_argument('--sam2-box-margin', type=float, default=0.1,
                        help='masks stay inside the box grown by this fraction (<0: off)')
    parser.add_argument('--device', help='torch device for SAM2 (default: cuda if available)')
    parser.add_argument('--no-spatial-expressions', action='store_true',
                        help='do not write target-less expressions of spatial relations')
    parser.add_argument('--video-ids', nargs='+', help='convert only these videos')
    parser.add_argument('--strict', action='store_true',
                        help='stop at the first bad video instead of skipping it')
    parser.add_argument('--log-level', default='WARNING')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format='%(levelname)s %(name)s: %(message)s')
    llm_config = None
    if args.llm_config:
        try:
            llm_config = load_llm_config(args.llm_config)
        except (ValueError, OSError) as err:
            print(f'error: {err}', file=sys.stderr)
            return 2
    options = ConvertOptions(
        vidor_root=args.vidor_root, split=args.split, out=args.out, backend=args.backend,
        llm_config=llm_config, mask_source=args.mask_source, fps=args.fps, workers=args.workers,
        sam2_config=args.sam2_cfg, sam2_checkpoint=args.sam2_checkpoint,
        sam2_random_init=args.sam2_random_init, sam2_overrides=args.sam2_override,
        sam2_prompt_every=args.sam2_prompt_every, sam2_box_margin=args.sam2_box_margin,
        device=args.device, spatial_expressions=not args.no_spatial_expressions,
        video_ids=args.video_ids, strict=args.strict)
    try:
        convert(options)
    except (ValueError, OSError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
