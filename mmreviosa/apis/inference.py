"""High-level inference: build a model from a config, segment a video for an expression."""
import copy
import os
import os.path as osp
from typing import List, NamedTuple, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope

from mmreviosa.engine.strategy_checkpoints import load_trained_checkpoint
from mmreviosa.fileio import check_expression, read_rgb_image, stack_frames
from mmreviosa.registry import MODELS

#: Transforms of a test pipeline that read files; in-memory videos skip them.
_FILE_TRANSFORMS = ('LoadVideoFrames', 'LoadRoleMasks')
_IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp')


class VideoPrediction(NamedTuple):
    """What :func:`inference_video` returns.

    Attributes:
        actor_masks (np.ndarray): (T, H, W) bool, one mask per input frame.
        target_masks (np.ndarray | None): (T, H, W) bool, or None when the
            model answered without a target (no interaction).
        text (str): the generated answer.
    """
    actor_masks: np.ndarray
    target_masks: Optional[np.ndarray]
    text: str


def init_model(config: Union[str, Config], checkpoint: Optional[str] = None,
               device: str = 'cpu', cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """Build a model from a config file and load a checkpoint.

    Args:
        config: config path or :class:`Config`.
        checkpoint: checkpoint written by training, a file or a DeepSpeed folder (only
            trained weights; the
            frozen parts come from the pretrained paths in the config).
        device: e.g. 'cpu', 'cuda:0'.
        cfg_options: overrides merged into the config.

    Returns:
        The model in eval mode, with the config as ``model.cfg``.
    """
    from mmreviosa.utils import register_all_modules
    cfg = Config.fromfile(config) if isinstance(config, str) else copy.deepcopy(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'mmreviosa'))
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        # plain data only: nothing in the file is run; a DeepSpeed folder is read too
        load_trained_checkpoint(model, checkpoint, strict=True)
    model.cfg = cfg
    return model.to(device).eval()


def read_video(video: Union[str, Sequence[np.ndarray]]) -> np.ndarray:
    """A folder of frames, a video file or a list of arrays -> (T, H, W, 3) RGB uint8.

    Frames are checked as the dataset checks them (``mmreviosa.fileio``):
    a truncated JPEG, an undecodable file or frames of different sizes raise.

    Raises:
        FileNotFoundError: no such folder or file, or a folder without images.
        OSError: a frame file cannot be read or decoded completely.
        ValueError: frames of different sizes, or not RGB uint8 arrays.
    """
    if isinstance(video, str):
        if osp.isdir(video):
            names = sorted(f for f in os.listdir(video) if f.lower().endswith(_IMAGE_SUFFIXES))
            if not names:
                raise FileNotFoundError(f'no image files ({_IMAGE_SUFFIXES}) in folder {video}')
            frames = [read_rgb_image(osp.join(video, name)) for name in names]
            return stack_frames(frames, f'video {video}', names=names)
        if osp.isfile(video):
            from mmreviosa.fileio import read_video_frames
            return read_video_frames(video)
        raise FileNotFoundError(f'video {video} is neither a folder of frames nor a file')
    return stack_frames(video, 'video')


def _inference_pipeline(cfg: Config) -> List[dict]:
    pipeline = cfg.get('test_pipeline') or cfg.test_dataloader.dataset.pipeline
    transforms = [t for t in copy.deepcopy(pipeline) if t['type'] not in _FILE_TRANSFORMS]
    if not transforms or transforms[0]['type'] != 'SampleFrames':
        raise ValueError('inference_video needs a test pipeline that starts with SampleFrames, '
                         f'got {[t["type"] for t in pipeline]}')
    return transforms


@torch.no_grad()
def inference_video(model: torch.nn.Module, video: Union[str, Sequence[np.ndarray]],
                    expression: str) -> VideoPrediction:
    """Segment the actor (and the target, if the model finds an interaction).

    Args:
        model: from :func:`init_model`.
        video: a folder of frames (sorted by name), a video file, or a list
            of RGB uint8 arrays (H, W, 3).
        expression: the referring expression.

    Returns:
        VideoPrediction: masks of every frame at the input resolution, and
        the generated answer.

    Raises:
        ValueError: an empty expression, or frames the dataset would reject
            (see :func:`read_video`).
    """
    check_expression(expression, 'inference_video')
    frames = read_video(video)
    num_frames = len(frames)
    item = dict(video_id='video', exp_id='0', expression=expression,
                num_video_frames=num_frames,
                frame_names=[str(i).zfill(5) for i in range(num_frames)],
                has_interaction=False, pair_exp_id=None, obj_id=[], anno_id=[],
                target_obj_id=[], target_anno_id=[])
    transforms = _inference_pipeline(model.cfg)
    sample_first = Compose(transforms[:1])  # SampleFrames decides which frames are read
    item = sample_first(item)
    item['frames'] = frames[item['frame_inds']]
    item['ori_shape'] = item['img_shape'] = frames.shape[1:3]
    data = Compose(transforms[1:])(item)
    data = model.data_preprocessor(pseudo_collate([data]), False)
    sample = model(**data, mode='predict')[0]
    actor = sample.pred_actor_masks.cpu().numpy().astype(bool)
    target = sample.get('pred_target_masks')
    target = None if target is None else target.cpu().numpy().astype(bool)
    return VideoPrediction(actor, target, sample.pred_text)
