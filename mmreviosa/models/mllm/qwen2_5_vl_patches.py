"""Qwen2.5-VL's image input from ReVIOSa's frames: flattened patches and ``image_grid_thw``.

The data pipeline gives each key frame as a normalised ``(3, S, S)`` image.
Qwen2.5-VL's vision tower takes a list of flattened patches instead, in the
order ``Qwen2VLImageProcessor`` writes them: a still image is repeated to
``temporal_patch_size`` slices, cut into ``patch_size`` patches, and the
patches of each ``spatial_merge_size`` x ``spatial_merge_size`` block are
consecutive (the merger folds each block into one LLM token; the blocks are
in row-major order, so the merged tokens of an image form an
``(S / (patch * merge))`` square grid read row by row).
"""
from typing import Tuple

import torch


def patchify_images(images: torch.Tensor, patch_size: int = 14, temporal_patch_size: int = 2,
                    merge_size: int = 2) -> Tuple[torch.Tensor, torch.Tensor]:
    """Flatten still images into Qwen2.5-VL patches, as ``Qwen2VLImageProcessor`` does.

    Args:
        images: (N, C, H, W) normalised images; H and W multiples of
            ``patch_size * merge_size``.
        patch_size, temporal_patch_size, merge_size: the vision tower's.

    Returns:
        (patches, grid_thw): patches (N * gh * gw, C * temporal_patch_size *
        patch_size ** 2), images in order; grid_thw (N, 3) long, ``[1, gh, gw]``
        per image with gh = H / patch_size, gw = W / patch_size.
    """
    if images.dim() != 4:
        raise ValueError(f'images must be (N, C, H, W), got {tuple(images.shape)}')
    num, channels, height, width = images.shape
    unit = patch_size * merge_size
    if height % unit or width % unit:
        raise ValueError(f'image size {height}x{width} must be a multiple of patch_size x '
                         f'merge_size = {unit}')
    grid_h, grid_w = height // patch_size, width // patch_size
    # (N, tp, C, H, W): the still image repeated over the temporal patch.
    frames = images[:, None].expand(-1, temporal_patch_size, -1, -1, -1)
    patches = frames.reshape(num, temporal_patch_size, channels, grid_h // merge_size,
                             merge_size, patch_size, grid_w // merge_size, merge_size,
                             patch_size)
    # -> (N, gh/m, gw/m, m, m, C, tp, P, P), the processor's transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    # with the image axis in front of its single temporal grid step.
    patches = patches.permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
    patches = patches.reshape(num * grid_h * grid_w,
                              channels * temporal_patch_size * patch_size * patch_size)
    grid_thw = torch.tensor([[1, grid_h, grid_w]], dtype=torch.long,
                            device=images.device).expand(num, -1).contiguous()
    return patches, grid_thw
