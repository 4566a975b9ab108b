"""Browse a dataset: overlay the actor (red) and target (blue) masks on the loaded frames.

The dataset's pipeline runs up to the loaded frames and masks (it stops
before ResizeForModels / TokenizeConversation / PackInterRVOSInputs), so what
is shown is what the model is trained on, at the original resolution.

Examples:
    python tools/analysis_tools/browse_dataset.py configs/reviosa/reviosa_tiny_intershapes.py \
        --phase val --output-dir work_dirs/browse --not-show --max-items 20
    python tools/analysis_tools/browse_dataset.py --data-root data/intershapes/valid \
        --output-dir work_dirs/browse --not-show
"""
import argparse
import logging
import os
import os.path as osp
import sys
from typing import List, Optional

import numpy as np
from mmengine.config import Config, DictAction
from mmengine.dataset import Compose
from mmengine.logging import print_log
from mmengine.registry import init_default_scope

# Transforms after which the frames are no longer at their original size, or
# which need more than the data (a tokenizer).
STOP_TRANSFORMS = ('ResizeForModels', 'TokenizeConversation', 'PackInterRVOSInputs')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Browse an InterRVOS dataset')
    parser.add_argument('config', nargs='?', help='config file (or give --data-root)')
    parser.add_argument('--data-root', help='a split folder in the InterRVOS format (or the '
                        '--layout given); with a config, overrides the dataset\'s data_root')
    parser.add_argument('--layout', default='interrvos',
                        help='dataset layout when --data-root is used without a config')
    parser.add_argument('--phase', default='train', choices=['train', 'val', 'test'],
                        help='which dataloader of the config to browse')
    parser.add_argument('--output-dir', help='write one file (or folder) per item here')
    parser.add_argument('--not-show', action='store_true', help='do not open a window')
    parser.add_argument('--max-items', type=int, default=None, help='browse the first N items')
    parser.add_argument('--format', default='gif', choices=['gif', 'png'],
                        help='gif: <video>_<exp_id>.gif; png: <video>_<exp_id>/<frame>.png')
    parser.add_argument('--fps', type=float, default=4, help='GIF / window frame rate')
    parser.add_argument('--display-size', type=int, default=256,
                        help='upscale frames whose shorter side is smaller (never downscale)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. train_dataloader.dataset.layout=mevis')
    args = parser.parse_args(argv)
    if args.config is None and args.data_root is None:
        parser.error('give a CONFIG or --data-root')
    if args.not_show and args.output_dir is None:
        parser.error('nothing to do: give --output-dir or drop --not-show')
    return args


def _type_name(transform) -> str:
    name = transform.get('type', '') if isinstance(transform, dict) else type(transform).__name__
    name = name if isinstance(name, str) else getattr(name, '__name__', str(name))
    return name.split('.')[-1]


def truncate_pipeline(pipeline: list) -> list:
    """The transforms before the first of ``STOP_TRANSFORMS``."""
    kept = []
    for transform in pipeline:
        if _type_name(transform) in STOP_TRANSFORMS:
            break
        kept.append(transform)
    return kept


def _truncate_dataset_cfg(dataset_cfg: dict) -> None:
    """In place: truncate every pipeline of a dataset config (wrappers included)."""
    if 'pipeline' in dataset_cfg:
        dataset_cfg['pipeline'] = truncate_pipeline(dataset_cfg['pipeline'])
    if isinstance(dataset_cfg.get('dataset'), dict):
        _truncate_dataset_cfg(dataset_cfg['dataset'])
    for child in dataset_cfg.get('datasets', []) or []:
        if isinstance(child, dict):
            _truncate_dataset_cfg(child)


def _import_data_modules() -> None:
    import mmreviosa.datasets  # noqa: F401
    import mmreviosa.datasets.interrvos  # noqa: F401
    import mmreviosa.datasets.transforms.formatting  # noqa: F401
    import mmreviosa.datasets.transforms.loading  # noqa: F401
    import mmreviosa.datasets.transforms.processing  # noqa: F401
    import mmreviosa.datasets.transforms.sampling  # noqa: F401


def build_browse_dataset(args):
    """The dataset to browse, with its pipeline truncated (see module doc)."""
    from mmreviosa.registry import DATASETS
    _import_data_modules()
    if args.config is None:
        init_default_scope('mmreviosa')
        dataset = DATASETS.build(dict(type='InterRVOSDataset', data_root=args.data_root,
                                      layout=args.layout, test_mode=True))
        pipeline = [dict(type='SampleFrames', mode='test'), dict(type='LoadVideoFrames')]
        if dataset.mask_format is not None:
            pipeline.append(dict(type='LoadRoleMasks'))
        dataset.pipeline = Compose(pipeline)
        return dataset
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmreviosa'))
    loader_key = f'{args.phase}_dataloader'
    if cfg.get(loader_key) is None:
        raise KeyError(f'{args.config} has no {loader_key}')
    dataset_cfg = cfg[loader_key]['dataset'].to_dict() \
        if hasattr(cfg[loader_key]['dataset'], 'to_dict') else dict(cfg[loader_key]['dataset'])
    if args.data_root is not None:
        dataset_cfg['data_root'] = args.data_root
    if dataset_cfg.get('expressions_per_item', 1) > 1:
        dataset_cfg['expressions_per_item'] = 1  # each expression shown on its own
    _truncate_dataset_cfg(dataset_cfg)
    return DATASETS.build(dataset_cfg)


def _upscale(frames: np.ndarray, masks: List[Optional[np.ndarray]], min_side: int):
    import cv2
    height, width = frames.shape[1:3]
    scale = max(1, int(np.ceil(min_side / min(height, width))))
    if scale == 1:
        return frames, masks
    size = (width * scale, height * scale)
    frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_NEAREST) for f in frames])
    masks = [None if m is None else np.repeat(np.repeat(m, scale, axis=1), scale, axis=2)
             for m in masks]
    return frames, masks


def render_item(results: dict, display_size: int = 256) -> np.ndarray:
    """(T, H', W', 3) uint8 overlay of one pipeline output (no caption)."""
    from mmreviosa.visualization.overlay import overlay_masks
    frames = results['frames']
    actor = results.get('gt_actor_masks')
    target = results.get('gt_target_masks') if results.get('has_interaction') else None
    frames, (actor, target) = _upscale(frames, [actor, target], display_size)
    return overlay_masks(frames, actor, target)


def _show(frames: np.ndarray, title: str, fps: float) -> bool:
    """Show frames in a window; False when no display is available."""
    import cv2
    if sys.platform.startswith('linux') and not os.environ.get('DISPLAY'):
        return False
    for frame in frames:
        cv2.imshow(title, frame[..., ::-1])
        cv2.waitKey(max(1, int(1000 / fps)))
    return True


def main(argv=None) -> List[str]:
    """Run the tool; returns the paths written."""
    import cv2

    from mmreviosa.visualization.overlay import add_caption, write_gif
    args = parse_args(argv)
    dataset = build_browse_dataset(args)
    num_items = len(dataset) if args.max_items is None else min(args.max_items, len(dataset))
    show = not args.not_show
    written = []
    for idx in range(num_items):
        results = dataset[idx]
        name = f'{results["video_id"]}_{results["exp_id"]}'.replace(os.sep, '_')
        frames = add_caption(render_item(results, args.display_size), results['expression'])
        if args.output_dir is not None:
            if args.format == 'gif':
                written.append(write_gif(frames, osp.join(args.output_dir, name + '.gif'),
                                         fps=args.fps))
            else:
                folder = osp.join(args.output_dir, name)
                os.makedirs(folder, exist_ok=True)
                names = [results['frame_names'][i] for i in results['frame_inds']]
                for frame_name, frame in dict(zip(names, frames)).items():
                    # A frame sampled twice (short video in training) is written once.
                    path = osp.join(folder, f'{frame_name}.png')
                    cv2.imwrite(path, frame[..., ::-1])
                    written.append(path)
        if show and not _show(frames, name, args.fps):
            print_log('No display available: not showing (use --not-show to silence this)',
                      logger='current', level=logging.WARNING)
            show = False
    print(f'browsed {num_items} of {len(dataset)} items'
          + (f'; wrote {len(written)} files under {args.output_dir}' if written else ''))
    return written


if __name__ == '__main__':
    main()
