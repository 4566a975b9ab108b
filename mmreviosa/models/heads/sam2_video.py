"""SAM2 video-memory propagation of role masks from prompted key frames.

Follows the order of sam2's ``SAM2VideoPredictor`` on tensors already in memory:
every prompted key frame is decoded on its own (an initial conditioning frame)
and written to memory; then frames after the earliest key frame are tracked
forward and frames before it backward, each through ``SAM2Base.track_step``
(memory attention over the conditioning frames, the last ``num_maskmem - 1``
tracked frames and the object pointers, then the memory encoder).
"""
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

if TYPE_CHECKING:
    from mmreviosa.models.heads.sam2_head import SAM2Features, SAM2Head

__all__ = ['decode_video_with_memory']


def _frame_inputs(feats: 'SAM2Features', frame_idx: int, num_objects: int
                  ) -> Tuple[List[Tensor], List[Optional[Tensor]], List[Tuple[int, int]]]:
    """Per-level (HW, B, C) features of one frame in the layout ``track_step`` expects.

    The high-res levels come first (already projected by ``conv_s0`` / ``conv_s1``),
    the image embedding last; only the last level needs a positional encoding.
    """
    levels = list(feats.high_res_features or []) + [feats.image_embeddings]
    vision_feats, feat_sizes = [], []
    for level in levels:
        frame_level = level[frame_idx:frame_idx + 1]
        feat_sizes.append(tuple(frame_level.shape[-2:]))
        vision_feats.append(frame_level.flatten(2).permute(2, 0, 1).expand(-1, num_objects, -1))
    pos = feats.image_pos[frame_idx:frame_idx + 1].flatten(2).permute(2, 0, 1)
    pos_embeds = [None] * (len(levels) - 1) + [pos.expand(-1, num_objects, -1)]
    return vision_feats, pos_embeds, feat_sizes


def _conditioning_output(head: 'SAM2Head', feats: 'SAM2Features', frame_idx: int,
                         low_res_logits: Tensor, output_tokens: Tensor) -> Dict[str, object]:
    """Memory entry of a prompted key frame.

    Args:
        low_res_logits: (B, 1, h, w) mask logits of the B objects on that frame.
        output_tokens: (B, C) decoder mask tokens.
    """
    sam2 = head.sam2
    vision_feats, _, feat_sizes = _frame_inputs(feats, frame_idx, low_res_logits.shape[0])
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


def decode_video_with_memory(head: 'SAM2Head', feats: 'SAM2Features',
                             key_frame_inds: List[int], prompts: Tensor) -> Tensor:
    """Decode R objects on T frames from prompts on K key frames through SAM2 memory.

    Args:
        head: the :class:`SAM2Head` whose ``sam2`` model runs.
        feats: features of the T frames, in temporal order.
        key_frame_inds: K distinct frame indices (validated by the caller).
        prompts: (K, R, C) one prompt token per key frame and object.

    Returns:
        (R, T, h, w) low-resolution mask logits.
    """
    sam2 = head.sam2
    num_frames, num_objects = len(feats), prompts.shape[1]
    output_dict = {'cond_frame_outputs': {}, 'non_cond_frame_outputs': {}}
    key_logits, key_tokens = head.decode_with_tokens(feats.select(key_frame_inds), prompts)
    for key_idx, frame_idx in enumerate(key_frame_inds):
        output_dict['cond_frame_outputs'][frame_idx] = _conditioning_output(
            head, feats, frame_idx, key_logits[key_idx].unsqueeze(1), key_tokens[key_idx])

    first_key = min(key_frame_inds)
    forward_order = [(t, False) for t in range(first_key + 1, num_frames)]
    backward_order = [(t, True) for t in range(first_key - 1, -1, -1)]
    for frame_idx, reverse in forward_order + backward_order:
        if frame_idx in output_dict['cond_frame_outputs']:
            continue
        vision_feats, pos_embeds, feat_sizes = _frame_inputs(feats, frame_idx, num_objects)
        output_dict['non_cond_frame_outputs'][frame_idx] = sam2.track_step(
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

    outputs = {**output_dict['non_cond_frame_outputs'], **output_dict['cond_frame_outputs']}
    mask_logits = torch.stack([outputs[t]['pred_masks'][:, 0] for t in range(num_frames)], dim=1)
    return mask_logits.float()
