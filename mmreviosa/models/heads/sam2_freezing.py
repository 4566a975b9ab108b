"""Which parts of a SAM2 model the role-token losses train, and which stay frozen.

Single-mask output: the decoder's first mask token is the one trained and used; SAM's
three ambiguity masks and its IoU head exist to resolve ambiguous clicks, whereas a role
token names one object, and an unsupervised IoU head would pick among untrained masks.
The IoU and occlusion heads and the hypernetwork MLPs of the three ambiguity masks are
therefore frozen: their outputs never reach the loss (their gradient is exactly zero),
yet AdamW's weight decay would shrink them, and SAM2's own tracking uses them on every
frame without prompts (it picks the best of the ambiguity masks by predicted IoU).
Everything the image-level loss does not reach is frozen, so DDP needs no
``find_unused_parameters``.
"""
from typing import List

from torch import nn


def frozen_modules(sam2: nn.Module, freeze_image_encoder: bool, freeze_memory: bool,
                   point_embedding_trained: bool) -> List[nn.Module]:
    """Submodules of a sam2 ``SAM2Base`` that no loss trains (kept in eval mode)."""
    decoder = sam2.sam_mask_decoder
    prompt_encoder = sam2.sam_prompt_encoder
    # Never reached by any loss: clicks, boxes and mask prompts are not used, and
    # the IoU / occlusion outputs only feed argmax / hard thresholds.
    point_embeddings = list(prompt_encoder.point_embeddings)
    if point_embedding_trained:  # label 1 (foreground point) is the one used
        point_embeddings.pop(1)
    frozen = point_embeddings + [prompt_encoder.mask_downscaling, decoder.iou_prediction_head]
    # Only the first (single-mask) output is decoded for the loss.
    frozen += list(decoder.output_hypernetworks_mlps)[1:]
    if getattr(decoder, 'pred_obj_scores', False):
        frozen.append(decoder.pred_obj_score_head)
    if hasattr(sam2, 'mask_downsample'):
        frozen.append(sam2.mask_downsample)  # only for mask inputs
    if freeze_image_encoder:
        frozen.append(sam2.image_encoder)
    if freeze_memory:
        frozen += [sam2.memory_attention, sam2.memory_encoder, sam2.obj_ptr_proj,
                   sam2.obj_ptr_tpos_proj, prompt_encoder.not_a_point_embed]
    return frozen


def frozen_parameters(sam2: nn.Module, freeze_memory: bool) -> List[nn.Parameter]:
    """Loose parameters of a sam2 ``SAM2Base`` (outside any submodule) that no loss trains."""
    names = []
    if sam2.directly_add_no_mem_embed:
        names.append('no_mem_pos_enc')  # only for the dummy memory token
    if freeze_memory:
        names += ['maskmem_tpos_enc', 'no_mem_embed', 'no_mem_pos_enc', 'no_obj_ptr',
                  'no_obj_embed_spatial']
    params = [getattr(sam2, name, None) for name in names]
    return [param for param in params if isinstance(param, nn.Parameter)]
