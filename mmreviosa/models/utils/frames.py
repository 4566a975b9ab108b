"""Frame bookkeeping shared by the segmentor and the SAM2 head."""
from typing import Sequence

import torch


def nearest_key_frames(num_frames: int, key_frame_inds: Sequence[int]) -> torch.Tensor:
    """For each of ``num_frames`` frames, the index (into ``key_frame_inds``) of the
    key frame nearest in time; ties go to the earlier key frame.

    Returns:
        (num_frames,) long tensor on the CPU (host-side bookkeeping).
    """
    keys = torch.as_tensor(list(key_frame_inds), dtype=torch.float, device='cpu')
    frame_inds = torch.arange(num_frames, dtype=torch.float, device='cpu')
    # argmin returns the first minimum: sort keys so ties go to the earlier key
    order = torch.argsort(keys)
    distance = (frame_inds[:, None] - keys[order][None]).abs()
    return order[distance.argmin(dim=1)]
