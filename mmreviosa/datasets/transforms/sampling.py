"""Choosing the frames of a video that an item uses."""
from typing import Dict, List, Optional

import numpy as np
from mmcv.transforms import BaseTransform

from mmreviosa.registry import TRANSFORMS


def uniform_indices(num_items: int, num_samples: int) -> List[int]:
    """Centres of ``num_samples`` equal segments of ``range(num_items)``.

    The InternVL video sampling: index ``i`` is ``floor((i + 0.5) * N / K)``.
    Distinct when ``K <= N``; when ``K > N`` indices repeat, so the count
    stays ``K`` (:class:`SampleFrames` asks for at most ``N``).
    """
    if num_items < 1 or num_samples < 1:
        raise ValueError(f'Need num_items >= 1 and num_samples >= 1, got {num_items}, '
                         f'{num_samples}')
    return [int((i + 0.5) * num_items / num_samples) for i in range(num_samples)]


@TRANSFORMS.register_module()
class SampleFrames(BaseTransform):
    """Pick the frames of an item (all sampled frames) and its key frames (read by the MLLM).

    ``mode='train'``: ``num_frames`` distinct frames drawn at random (numpy's
    global generator, which mmengine seeds per worker), sorted.  A video
    shorter than ``num_frames`` uses every frame once plus random repeats to
    reach ``num_frames`` (sorted, so repeats are adjacent).  All sampled
    frames are key frames unless ``num_key_frames`` picks a uniform subset.

    ``mode='test'``: every frame of the video, in order, and
    ``num_key_frames`` (default 5) key frames at the centres of equal segments
    of the video.  A video of ``T < K`` frames has ``K' = T`` key frames, each
    frame once: key frames are where SAM2 is prompted, which needs distinct
    frames, and the MLLM then reads ``K'`` images (the prompt of
    ``TokenizeConversation`` holds one image block per key frame, and the
    model takes each sample's count from its pixels).  Repeating frames to
    keep ``K`` images for the MLLM would need a second index list for the MLLM;
    InternVL reads any number of images, so the simpler ``K' = T`` is used.
    Training is unaffected: short videos repeat frames in ``frame_inds``,
    and key frames index ``frame_inds``, so they stay distinct.

    Required keys: ``num_video_frames``.
    Added keys: ``frame_inds`` (list[int], indices into the video's frames)
    and ``key_frame_inds`` (list[int], indices into ``frame_inds``).

    Args:
        num_frames (int): frames per item in training.
        mode (str): 'train' or 'test'.
        num_key_frames (int, optional): key frames; default: all sampled
            frames in training, 5 at test time (fewer for shorter videos).
    """

    def __init__(self, num_frames: int = 5, mode: str = 'train',
                 num_key_frames: Optional[int] = None):
        if mode not in ('train', 'test'):
            raise ValueError(f"mode must be 'train' or 'test', got {mode!r}")
        if num_frames < 1:
            raise ValueError(f'num_frames must be >= 1, got {num_frames}')
        if num_key_frames is not None and num_key_frames < 1:
            raise ValueError(f'num_key_frames must be >= 1, got {num_key_frames}')
        if mode == 'train' and num_key_frames is not None and num_key_frames > num_frames:
            raise ValueError(f'num_key_frames ({num_key_frames}) cannot exceed num_frames '
                             f'({num_frames}) in training: key frames are sampled frames')
        self.num_frames = num_frames
        self.mode = mode
        self.num_key_frames = num_key_frames

    def _train_inds(self, num_video_frames: int) -> List[int]:
        if num_video_frames >= self.num_frames:
            inds = np.random.choice(num_video_frames, self.num_frames, replace=False)
        else:
            extra = np.random.choice(num_video_frames, self.num_frames - num_video_frames,
                                     replace=True)
            inds = np.concatenate([np.arange(num_video_frames), extra])
        return sorted(int(i) for i in inds)

    def transform(self, results: Dict) -> Dict:
        num_video_frames = int(results['num_video_frames'])
        if num_video_frames < 1:
            raise ValueError(f'video {results.get("video_id")} expression '
                             f'{results.get("exp_id")}: the video has no frames')
        if self.mode == 'train':
            frame_inds = self._train_inds(num_video_frames)
            key_frame_inds = (list(range(len(frame_inds))) if self.num_key_frames is None
                              else uniform_indices(len(frame_inds), self.num_key_frames))
        else:
            frame_inds = list(range(num_video_frames))
            num_key_frames = min(self.num_key_frames or 5, num_video_frames)
            key_frame_inds = uniform_indices(num_video_frames, num_key_frames)
        results['frame_inds'] = frame_inds
        results['key_frame_inds'] = key_frame_inds
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_frames={self.num_frames}, mode={self.mode!r}, '
                f'num_key_frames={self.num_key_frames})')
