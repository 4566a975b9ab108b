"""SAM2 video-memory propagation of role masks from prompted key frames.

Follows the order of sam2's ``SAM2VideoPredictor`` on frames given one at a
time: every prompted key frame is decoded on its own (an initial conditioning
frame) and written to memory; then frames after the earliest key frame are
tracked forward and frames before it backward, each through
``SAM2Base.track_step`` (memory attention over the conditioning frames, the
last ``num_maskmem - 1`` tracked frames and the object pointers, then the
memory encoder).

Features come from a callable, so a long video can be encoded lazily, one
frame at a time, and each frame's logits are handed to a callback as soon as
they exist; with ``window`` set, memory entries that no later frame can read
are dropped. Peak memory then does not grow with the number of frames.

The video methods of :class:`~mmreviosa.models.heads.SAM2Head` (``decode_video``,
``predict_video``, ``predict_frames``) are the functions at the end of this file; every
``head`` argument here is that head (not imported: the head imports this module).
"""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmreviosa.models.heads.sam2_features import SAM2Features
from mmreviosa.models.utils import nearest_key_frames

__all__ = ['propagate_with_memory', 'memory_window', 'decode_video', 'predict_video',
           'predict_frames']

#: Features of one frame (a :class:`SAM2Features` of length 1) from its index.
FrameFeatures = Callable[[int], SAM2Features]
#: Receives a frame index and that frame's (R, h, w) low-resolution logits.
FrameSink = Callable[[int, Tensor], None]


#: The small fields of a memory entry, all that object pointers need.
_POINTER_FIELDS = ('obj_ptr', 'object_score_logits')


def memory_window(sam2) -> Tuple[int, int]:
    """How many frames back (or ahead, in reverse) ``track_step`` may read.

    Returns:
        (memory frames, object pointers): memory features are read ``num_maskmem``
        strides back (the first one is the previous frame, the rest on the
        ``memory_temporal_stride_for_eval`` grid), object pointers
        ``max_obj_ptrs_in_encoder`` frames back.
    """
    stride = max(1, int(getattr(sam2, 'memory_temporal_stride_for_eval', 1)))
    return (sam2.num_maskmem + 1) * stride + 1, sam2.max_obj_ptrs_in_encoder + 1


def _frame_inputs(feats: SAM2Features, num_objects: int
                  ) -> Tuple[List[Tensor], List[Optional[Tensor]], List[Tuple[int, int]]]:
    """Per-level (HW, B, C) features of one frame in the layout ``track_step`` expects.

    The high-res levels come first (already projected by ``conv_s0`` / ``conv_s1``),
    the image embedding last; only the last level needs a positional encoding.
    """
    levels = list(feats.high_res_features or []) + [feats.image_embeddings]
    vision_feats, feat_sizes = [], []
    for level in levels:
        feat_sizes.append(tuple(level.shape[-2:]))
        vision_feats.append(level.flatten(2).permute(2, 0, 1).expand(-1, num_objects, -1))
    pos = feats.image_pos.flatten(2).permute(2, 0, 1)
    pos_embeds = [None] * (len(levels) - 1) + [pos.expand(-1, num_objects, -1)]
    return vision_feats, pos_embeds, feat_sizes


def _conditioning_output(head: nn.Module, feats: SAM2Features, low_res_logits: Tensor,
                         output_tokens: Tensor) -> Dict[str, object]:
    """Memory entry of a prompted key frame.

    Args:
        feats: features of that one frame.
        low_res_logits: (B, 1, h, w) mask logits of the B objects on that frame.
        output_tokens: (B, C) decoder mask tokens.
    """
    sam2 = head.sam2
    vision_feats, _, feat_sizes = _frame_inputs(feats, low_res_logits.shape[0])
    high_res_logits = F.interpolate(low_res_logits, size=(sam2.image_size, sam2.image_size),
                                    mode='bilinear', align_corners=False)
    # The occlusion head never saw language prompts: on prompted frames the object is
    # present iff its mask is non-empty, as sam2 does for frames given a mask input.
    is_present = (low_res_logits > 0).flatten(1).any(dim=1, keepdim=True).float()
    object_score_logits = 20.0 * is_present - 10.0
    obj_ptr = sam2.obj_ptr_proj(output_tokens)
    if sam2.pred_obj_scores and sam2.use_obj_ptrs_in_encoder:
        if sam2.fixed_no_obj_ptr:
            obj_ptr = is_present * obj_ptr
        obj_ptr = obj_ptr + (1 - is_present) * sam2.no_obj_ptr
    maskmem_features, maskmem_pos_enc = sam2._encode_new_memory(
        current_vision_feats=vision_feats,
        feat_sizes=feat_sizes,
        pred_masks_high_res=high_res_logits,
        object_score_logits=object_score_logits,
        is_mask_from_pts=True)
    return dict(maskmem_features=maskmem_features, maskmem_pos_enc=maskmem_pos_enc,
                pred_masks=low_res_logits, obj_ptr=obj_ptr,
                object_score_logits=object_score_logits)


def propagate_with_memory(head: nn.Module, frame_features: FrameFeatures, num_frames: int,
                          key_frame_inds: List[int], prompts: Tensor, on_frame: FrameSink,
                          window: Optional[Tuple[int, int]] = None) -> None:
    """Decode R objects on T frames from prompts on K key frames through SAM2 memory.

    Args:
        head: the :class:`SAM2Head` whose ``sam2`` model runs.
        frame_features: features of frame t (length 1), called once per frame
            and once more per key frame.
        num_frames: T.
        key_frame_inds: K distinct frame indices (validated by the caller).
        prompts: (K, R, C) one prompt token per key frame and object.
        on_frame: called with (t, (R, h, w) logits) once for every frame.
        window: (memory frames, object pointers) of :func:`memory_window`: drop the
            memory features of tracked frames farther than the first from the frame
            being tracked, and the whole entry farther than the second (keeping what
            the backward pass will read); None keeps every entry (and its autograd
            graph).
    """
    sam2 = head.sam2
    num_objects = prompts.shape[1]
    cond_outputs: Dict[int, dict] = {}
    tracked: Dict[int, dict] = {}
    output_dict = {'cond_frame_outputs': cond_outputs, 'non_cond_frame_outputs': tracked}
    for key_idx, frame_idx in enumerate(key_frame_inds):
        feats = frame_features(frame_idx)
        logits, tokens = head.decode_with_tokens(feats, prompts[key_idx:key_idx + 1])
        cond_outputs[frame_idx] = _conditioning_output(head, feats, logits[0].unsqueeze(1),
                                                       tokens[0])
        on_frame(frame_idx, logits[0].float())

    first_key = min(key_frame_inds)
    forward_order = [(t, False) for t in range(first_key + 1, num_frames)]
    backward_order = [(t, True) for t in range(first_key - 1, -1, -1)]
    for frame_idx, reverse in forward_order + backward_order:
        if frame_idx in cond_outputs:
            continue
        vision_feats, pos_embeds, feat_sizes = _frame_inputs(frame_features(frame_idx),
                                                             num_objects)
        out = sam2.track_step(
            frame_idx=frame_idx,
            is_init_cond_frame=False,
            current_vision_feats=vision_feats,
            current_vision_pos_embeds=pos_embeds,
            feat_sizes=feat_sizes,
            point_inputs=None,
            mask_inputs=None,
            output_dict=output_dict,
            num_frames=num_frames,
            track_in_reverse=reverse,
            run_mem_encoder=True)
        on_frame(frame_idx, out.pop('pred_masks')[:, 0].float())
        out.pop('pred_masks_high_res', None)
        tracked[frame_idx] = out
        if window is not None:
            _drop_unread_memory(tracked, frame_idx, reverse, first_key, window)


def _drop_unread_memory(tracked: Dict[int, dict], frame_idx: int, reverse: bool,
                        first_key: int, window: Tuple[int, int]) -> None:
    """Drop what no frame after ``frame_idx`` reads from the tracked frames' entries."""
    memory_frames, pointers = window

    def still_read(t: int, reach: int) -> bool:
        if abs(t - frame_idx) <= reach:
            return True
        # A backward pass (frames before the first key frame) comes after the
        # forward one and starts by reading the first frames the forward pass tracked.
        return not reverse and first_key > 0 and t - first_key <= reach

    for t in list(tracked):
        if not still_read(t, pointers):
            del tracked[t]
        elif not still_read(t, memory_frames) and 'maskmem_features' in tracked[t]:
            tracked[t] = {k: v for k, v in tracked[t].items() if k in _POINTER_FIELDS}


def check_key_frames(num_frames: int, key_frame_inds: Sequence[int], prompts: Tensor,
                     prompt_dim: int) -> None:
    """K distinct key frames in [0, T) and (K, R, prompt_dim) prompts, or an error."""
    key_frame_inds = list(key_frame_inds)
    assert prompts.dim() == 3 and prompts.shape[0] == len(key_frame_inds) and \
        prompts.shape[2] == prompt_dim, (
            f'prompts must be (K={len(key_frame_inds)}, R, {prompt_dim}), '
            f'got {tuple(prompts.shape)}')
    if not key_frame_inds or len(set(key_frame_inds)) != len(key_frame_inds) or \
            min(key_frame_inds) < 0 or max(key_frame_inds) >= num_frames:
        raise ValueError(f'key_frame_inds must be distinct indices in [0, {num_frames}), '
                         f'got {key_frame_inds}')


def logits_to_masks(mask_logits: Tensor, ori_shape: Tuple[int, int]) -> Tensor:
    """(R, T, h, w) logits -> (R, T, H, W) bool masks at ``ori_shape`` (threshold 0)."""
    upsampled = F.interpolate(mask_logits.float(), size=tuple(ori_shape), mode='bilinear',
                              align_corners=False)
    return upsampled > 0


def decode_video(head: nn.Module, feats: SAM2Features, key_frame_inds: Sequence[int],
                 prompts: Tensor) -> Tensor:
    """Prompt the key frames, then propagate with SAM2's video memory.

    Differentiable (it trains memory attention / encoder when the head's
    ``freeze_memory`` is False); :func:`predict_video` runs the same propagation
    without gradients, encoding one frame at a time.

    Args:
        head: the SAM2 head.
        feats: features of the T frames of one video, in temporal order.
        key_frame_inds: K distinct frame indices in [0, T) carrying prompts.
        prompts: (K, R, prompt_dim) one prompt per key frame and role.

    Returns:
        (R, T, S/4, S/4) low-resolution mask logits.
    """
    check_key_frames(len(feats), key_frame_inds, prompts, head.prompt_dim)
    logits: Dict[int, Tensor] = {}
    with head.sam2_autocast():
        propagate_with_memory(head, lambda t: feats.select([t]), len(feats),
                              list(key_frame_inds), prompts, logits.__setitem__)
    return torch.stack([logits[t] for t in range(len(feats))], dim=1)


@torch.no_grad()
def predict_video(head: nn.Module, sam_pixels: Tensor, key_frame_inds: Sequence[int],
                  prompts: Tensor, ori_shape: Tuple[int, int]) -> Tensor:
    """Masks of R roles on all T frames of a video from prompts on K key frames.

    Frames go through the image encoder one at a time, each frame's logits
    are upsampled and thresholded as soon as they exist, and memory entries
    that no later frame reads are dropped: peak memory does not grow with T
    (beyond the inputs and the boolean output).

    Args:
        head: the SAM2 head.
        sam_pixels: (T, 3, S, S) normalised frames.
        key_frame_inds: K distinct frame indices in [0, T).
        prompts: (K, R, prompt_dim) one prompt per key frame and role.
        ori_shape: (H, W) of the original frames.

    Returns:
        (R, T, H, W) bool masks (logits upsampled to ``ori_shape``, threshold 0).
    """
    num_frames = sam_pixels.shape[0]
    check_key_frames(num_frames, key_frame_inds, prompts, head.prompt_dim)
    masks = torch.zeros((prompts.shape[1], num_frames, *ori_shape), dtype=torch.bool,
                        device=prompts.device)
    frame_features = _LastFrameFeatures(head, sam_pixels)

    def write_masks(t: int, logits: Tensor) -> None:
        masks[:, t] = logits_to_masks(logits[None], ori_shape)[0]

    with head.sam2_autocast():
        propagate_with_memory(head, frame_features, num_frames, list(key_frame_inds),
                              prompts, write_masks, window=memory_window(head.sam2))
    return masks


@torch.no_grad()
def predict_frames(head: nn.Module, sam_pixels: Tensor, key_frame_inds: Sequence[int],
                   prompts: Tensor, ori_shape: Tuple[int, int]) -> Tensor:
    """Like :func:`predict_video` without memory: every frame is decoded on its own
    with the prompts of the key frame nearest in time (the earlier one on ties),
    one frame at a time.

    Returns:
        (R, T, H, W) bool masks.
    """
    num_frames = sam_pixels.shape[0]
    check_key_frames(num_frames, key_frame_inds, prompts, head.prompt_dim)
    nearest_key = nearest_key_frames(num_frames, key_frame_inds).tolist()
    masks = torch.zeros((prompts.shape[1], num_frames, *ori_shape), dtype=torch.bool,
                        device=prompts.device)
    for t in range(num_frames):
        feats = head.extract_features(sam_pixels[t:t + 1])
        logits = head.decode(feats, prompts[nearest_key[t]:nearest_key[t] + 1])
        masks[:, t] = logits_to_masks(logits.transpose(0, 1), ori_shape)[:, 0]
    return masks


class _LastFrameFeatures:
    """Encode frames on demand, keeping only the most recent one.

    Propagation asks for each key frame twice at most and for every other
    frame once, in order; caching the last frame saves the repeated encoding
    of a key frame that is decoded and then written to memory.
    """

    def __init__(self, head: nn.Module, sam_pixels: Tensor):
        self.head = head
        self.sam_pixels = sam_pixels
        self.index: Optional[int] = None
        self.features: Optional[SAM2Features] = None

    def __call__(self, t: int) -> SAM2Features:
        if t != self.index:
            self.features = None  # free the previous frame before encoding the next
            self.features = self.head.extract_features(self.sam_pixels[t:t + 1])
            self.index = t
        return self.features
