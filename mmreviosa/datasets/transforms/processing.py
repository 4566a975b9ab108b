"""Resizing frames for the two models, and the optional flip augmentation.

Pixels stay uint8 here; the data preprocessor normalises them on the device.
Both InternVL-2.5 and SAM2 normalise RGB with the ImageNet statistics
(``mmreviosa.fileio.IMAGENET_MEAN`` / ``_STD`` and their ``*_255`` forms).
"""
import re
from typing import Dict, Optional

import numpy as np
from mmcv.transforms import BaseTransform

from mmreviosa.datasets.packing import expressions_of
from mmreviosa.registry import TRANSFORMS

_PIL_FILTERS = ('nearest', 'bilinear', 'bicubic', 'area', 'lanczos')


def resize_square(frame: np.ndarray, size: int, interpolation: str = 'bilinear',
                  backend: str = 'pillow') -> np.ndarray:
    """Resize ``(H, W, 3)`` uint8 to ``(size, size, 3)`` ignoring the aspect ratio.

    ``backend='pillow'`` is what InternVL's preprocessing does (PIL resize,
    antialiased when shrinking); 'cv2' is faster.
    """
    if interpolation not in _PIL_FILTERS:
        raise ValueError(f'interpolation must be one of {_PIL_FILTERS}, got {interpolation!r}')
    if backend == 'pillow':
        from PIL import Image
        pil_filter = {'nearest': Image.NEAREST, 'bilinear': Image.BILINEAR,
                      'bicubic': Image.BICUBIC, 'area': Image.BOX,
                      'lanczos': Image.LANCZOS}[interpolation]
        return np.asarray(Image.fromarray(frame).resize((size, size), pil_filter))
    if backend == 'cv2':
        import cv2
        cv2_flag = {'nearest': cv2.INTER_NEAREST, 'bilinear': cv2.INTER_LINEAR,
                    'bicubic': cv2.INTER_CUBIC, 'area': cv2.INTER_AREA,
                    'lanczos': cv2.INTER_LANCZOS4}[interpolation]
        return cv2.resize(frame, (size, size), interpolation=cv2_flag)
    raise ValueError(f"backend must be 'pillow' or 'cv2', got {backend!r}")


@TRANSFORMS.register_module()
class ResizeForModels(BaseTransform):
    """Square-resize the frames for the MLLM (key frames) and for SAM2 (all frames).

    Both are plain square resizes, as InternVL (448 px, bicubic) and SAM2
    (1024 px, bilinear) preprocess an image; masks stay at the original size.

    Required keys: ``frames`` (T, H, W, 3) uint8, ``key_frame_inds``.
    Added keys: ``mllm_pixels`` (K, 3, Sm, Sm) uint8 (one per key frame) and
    ``sam_pixels`` (T, 3, Ss, Ss) uint8.

    Args:
        mllm_size (int): Sm.
        sam_size (int): Ss.
        mllm_interpolation (str): 'bicubic' (InternVL) or see ``resize_square``.
        sam_interpolation (str): 'bilinear' (SAM2).
        backend (str): 'pillow' or 'cv2'.
    """

    def __init__(self, mllm_size: int = 448, sam_size: int = 1024,
                 mllm_interpolation: str = 'bicubic', sam_interpolation: str = 'bilinear',
                 backend: str = 'pillow'):
        for name, value in (('mllm_interpolation', mllm_interpolation),
                            ('sam_interpolation', sam_interpolation)):
            if value not in _PIL_FILTERS:
                raise ValueError(f'{name} must be one of {_PIL_FILTERS}, got {value!r}')
        if backend not in ('pillow', 'cv2'):
            raise ValueError(f"backend must be 'pillow' or 'cv2', got {backend!r}")
        self.mllm_size = mllm_size
        self.sam_size = sam_size
        self.mllm_interpolation = mllm_interpolation
        self.sam_interpolation = sam_interpolation
        self.backend = backend

    def transform(self, results: Dict) -> Dict:
        frames = results['frames']
        assert frames.ndim == 4 and frames.shape[-1] == 3 and frames.dtype == np.uint8, (
            f'frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}')
        sam = [resize_square(f, self.sam_size, self.sam_interpolation, self.backend)
               for f in frames]
        key_frames = {i: resize_square(frames[i], self.mllm_size, self.mllm_interpolation,
                                       self.backend)
                      for i in set(results['key_frame_inds'])}
        mllm = [key_frames[i] for i in results['key_frame_inds']]
        results['sam_pixels'] = np.ascontiguousarray(np.stack(sam).transpose(0, 3, 1, 2))
        results['mllm_pixels'] = np.ascontiguousarray(np.stack(mllm).transpose(0, 3, 1, 2))
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(mllm_size={self.mllm_size}, sam_size={self.sam_size}, '
                f'mllm_interpolation={self.mllm_interpolation!r}, '
                f'sam_interpolation={self.sam_interpolation!r}, backend={self.backend!r})')


_DIRECTION_WORDS = {'left': 'right', 'right': 'left',
                    'clockwise': 'counterclockwise', 'counterclockwise': 'clockwise',
                    'counter-clockwise': 'clockwise', 'anticlockwise': 'clockwise',
                    'anti-clockwise': 'clockwise'}
# Longest alternatives first so that "counter-clockwise" is one match, not "clockwise".
_DIRECTION_RE = re.compile(
    r'\b(counter-clockwise|anti-clockwise|counterclockwise|anticlockwise|clockwise|left|right)'
    r'(most|wards?)?\b', re.IGNORECASE)


def _match_case(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    return word[0].upper() + word[1:] if like[0].isupper() else word


def swap_left_right(text: str) -> str:
    """Mirror the horizontal directions of an expression.

    left <-> right (also leftmost/rightmost, leftward(s)/rightward(s)) and
    clockwise <-> counterclockwise (a mirror reverses rotation); the case of
    the first letter is kept.  "right" in the sense of "correct" cannot be told
    apart and is swapped too: use the flip only on data whose expressions use
    it for directions.
    """
    def replace(match: re.Match) -> str:
        core, suffix = match.group(1), match.group(2) or ''
        swapped = _DIRECTION_WORDS[core.lower()]
        return _match_case(swapped, core) + suffix
    return _DIRECTION_RE.sub(replace, text)


@TRANSFORMS.register_module()
class VideoHorizontalFlip(BaseTransform):
    """Mirror all frames and role masks of an item left-right, and its expression's directions.

    Off unless put in a pipeline.  Place it after :class:`LoadRoleMasks` and
    before :class:`ResizeForModels` and ``TokenizeConversation`` (which read
    the flipped frames and the rewritten expression).  The whole clip is
    flipped or not, so the motion stays consistent across frames.

    Required keys: ``frames`` (T, H, W, 3), ``expression``.
    Modified keys: ``frames``, ``gt_actor_masks``/``gt_target_masks`` (when
    present), ``expression`` (see :func:`swap_left_right`).
    Added keys: ``flipped`` (bool).

    Args:
        prob (float): probability of flipping an item.
        swap_words (bool): rewrite direction words of the expression.
    """

    def __init__(self, prob: float = 0.5, swap_words: bool = True):
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.prob = prob
        self.swap_words = swap_words

    def transform(self, results: Dict) -> Optional[Dict]:
        flip = bool(np.random.rand() < self.prob)
        results['flipped'] = flip
        if not flip:
            return results
        results['frames'] = np.ascontiguousarray(results['frames'][:, :, ::-1])
        # A packed item (mmreviosa.datasets.packing) flips every turn with its frames.
        for expression in expressions_of(results):
            for key in ('gt_actor_masks', 'gt_target_masks'):
                if expression.get(key) is not None:
                    expression[key] = np.ascontiguousarray(expression[key][:, :, ::-1])
            if self.swap_words:
                expression['expression'] = swap_left_right(expression['expression'])
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(prob={self.prob}, swap_words={self.swap_words})'
