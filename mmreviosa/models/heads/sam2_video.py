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
"""
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Tuple

import torch.nn.functional as F
from torch import Tensor

if TYPE_CHECKING:
    from mmreviosa.models.heads.sam2_head import SAM2Features, SAM2Head

__all__ = ['propagate_with_memory', 'memory_window']

#: Features of one frame (a :class:`SAM2Features` of length 1) from its index.
FrameFeatures = Callable[[int], 'SAM2Features']
#: Receives a frame index and that frame's (R, h, w) low-resolution logits.
FrameSink = Callable[[int, Tensor], None]


def memory_window(sam2) -> int:
    """How many frames back (or ahead, in reverse) ``track_step`` may read.

    Memory frames reach ``num_maskmem`` strides back (the first one is the
    previous frame, the rest on the ``memory_temporal_stride_for_eval`` grid),
    object pointers ``max_obj_ptrs_in_encoder`` frames back.
    """
    stride = max(1, int(getattr(sam2, 'memory_temporal_stride_for_eval', 1)))
    return max((sam2.num_maskmem + 1) * stride, sam2.max_obj_ptrs_in_encoder) + 1


def _frame_inputs(feats: 'SAM2Features', num_objects: int
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


def _conditioning_output(head: 'SAM2Head', feats: 'SAM2Features', low_res_logits: Tensor,
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


def propagate_with_memory(head: 'SAM2Head', frame_features: FrameFeatures, num_frames: int,
                          key_frame_inds: List[int], prompts: Tensor, on_frame: FrameSink,
                          window: Optional[int] = None) -> None:
    """Decode R objects on T frames from prompts on K key frames through SAM2 memory.

    Args:
        head: the :class:`SAM2Head` whose ``sam2`` model runs.
        frame_features: features of frame t (length 1), called once per frame
            and once more per key frame.
        num_frames: T.
        key_frame_inds: K distinct frame indices (validated by the caller).
        prompts: (K, R, C) one prompt token per key frame and object.
        on_frame: called with (t, (R, h, w) logits) once for every frame.
        window: drop memory entries more than this many frames from the frame
            being tracked (keeping the ones the backward pass will read); None
            keeps every entry (and its autograd graph).
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
            stale = [t for t in tracked
                     if not _still_read(t, frame_idx, reverse, first_key, window)]
            for t in stale:
                del tracked[t]


def _still_read(t: int, frame_idx: int, reverse: bool, first_key: int, window: int) -> bool:
    """Whether the memory entry of tracked frame t can be read after ``frame_idx``."""
    if abs(t - frame_idx) <= window:
        return True
    # The backward pass starts next to the first key frame and reads the first
    # frames the forward pass tracked.
    return not reverse and t - first_key <= window
