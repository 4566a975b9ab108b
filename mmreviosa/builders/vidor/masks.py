"""Stage 1: mask tracks from VidOR boxes (box masks or SAM2 prompted with the boxes).

Both trackers take the sampled frames of a video (a folder of JPEGs) and, per
VidOR tid, its box on each sampled frame (None where the object is absent),
and return one COCO RLE per sampled frame (None where the object is absent):
VidOR's trajectories decide presence, the tracker only shapes the mask.
"""
import logging
import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmreviosa.builders.vidor.reader import Box
from mmreviosa.fileio import encode_rle

logger = logging.getLogger(__name__)

Rle = Dict[str, object]  # {"size": [h, w], "counts": str}
BoxTrack = List[Optional[Box]]  # one entry per sampled frame


def box_to_slices(box: Box, height: int, width: int, margin: float = 0.0
                  ) -> Tuple[slice, slice]:
    """Row and column slices of the pixels covered by ``box``.

    A box ``(x0, y0, x1, y1)`` covers columns ``floor(x0) .. ceil(x1) - 1``;
    ``margin`` grows it by that fraction of its size on each side; the result
    is clipped to the frame.
    """
    grow_x, grow_y = margin * (box[2] - box[0]), margin * (box[3] - box[1])
    x0 = max(0, int(math.floor(box[0] - grow_x)))
    y0 = max(0, int(math.floor(box[1] - grow_y)))
    x1 = min(width, int(math.ceil(box[2] + grow_x)))
    y1 = min(height, int(math.ceil(box[3] + grow_y)))
    return slice(y0, max(y0, y1)), slice(x0, max(x0, x1))


def box_mask(box: Box, height: int, width: int) -> np.ndarray:
    """``(H, W)`` bool mask with ``box`` filled (clipped to the frame)."""
    mask = np.zeros((height, width), dtype=bool)
    mask[box_to_slices(box, height, width)] = True
    return mask


class BoxMaskTracker:
    """Masks that are the filled, clipped boxes: cheap, no model."""

    name = 'box'

    def params(self) -> dict:
        """Settings that change the output (for resuming)."""
        return {'mask_source': 'box'}

    def track(self, frame_dir: str, box_tracks: Dict[int, BoxTrack], height: int,
              width: int) -> Tuple[Dict[int, List[Optional[Rle]]], Dict[int, int]]:
        """Box masks of every track.

        Returns:
            ``({tid: [rle or None per frame]}, {tid: number of box fallbacks}``
            (always 0 here)).
        """
        rles = {tid: [None if box is None else encode_rle(box_mask(box, height, width))
                      for box in boxes] for tid, boxes in box_tracks.items()}
        return rles, {tid: 0 for tid in box_tracks}


class SAM2MaskTracker:
    """Masks from the SAM2 video predictor prompted with each trajectory's boxes.

    Every object gets a box prompt on its first sampled frame and then on every
    ``prompt_every``-th sampled frame where it has a box (1: all of them), and
    SAM2 propagates through the rest.  On frames where VidOR has a box the
    mask is kept inside the box grown by ``box_margin`` (SAM2 leaking into the
    background is its most common failure); an empty mask falls back to the
    box (counted).  Frames without a VidOR box get no mask.

    Args:
        config: SAM2 hydra config name, e.g. ``configs/sam2.1/sam2.1_hiera_l.yaml``.
        checkpoint: local SAM2(.1) checkpoint; None builds random weights
            (only for testing the plumbing).
        device: torch device string.
        hydra_overrides: extra hydra overrides (e.g. ``++model.image_size=512``).
        prompt_every: re-prompt period in sampled frames with a box (>= 1).
        box_margin: fraction of the box size the mask may extend beyond the
            box; negative disables the limit.
    """

    name = 'sam2'

    def __init__(self, config: str, checkpoint: Optional[str], device: str = 'cpu',
                 hydra_overrides: Sequence[str] = (), prompt_every: int = 1,
                 box_margin: float = 0.1):
        if prompt_every < 1:
            raise ValueError(f'prompt_every must be >= 1, got {prompt_every}')
        self.config = config
        self.checkpoint = checkpoint
        self.device = device
        self.hydra_overrides = list(hydra_overrides)
        self.prompt_every = prompt_every
        self.box_margin = box_margin
        self._predictor = None

    def params(self) -> dict:
        """Settings that change the output (for resuming)."""
        return {'mask_source': 'sam2', 'config': self.config, 'checkpoint': self.checkpoint,
                'overrides': self.hydra_overrides, 'prompt_every': self.prompt_every,
                'box_margin': self.box_margin}

    @property
    def predictor(self):
        """The SAM2 video predictor, built on first use."""
        if self._predictor is None:
            from sam2.build_sam import build_sam2_video_predictor
            self._predictor = build_sam2_video_predictor(
                self.config, self.checkpoint, device=self.device,
                hydra_overrides_extra=self.hydra_overrides)
        return self._predictor

    def track(self, frame_dir: str, box_tracks: Dict[int, BoxTrack], height: int,
              width: int) -> Tuple[Dict[int, List[Optional[Rle]]], Dict[int, int]]:
        """SAM2 masks of every track; see the class doc for the rules.

        Returns:
            ``({tid: [rle or None per frame]}, {tid: frames that fell back to the box})``.
        """
        import torch
        num_frames = len(next(iter(box_tracks.values()))) if box_tracks else 0
        rles = {tid: [None] * num_frames for tid in box_tracks}
        fallbacks = {tid: 0 for tid in box_tracks}
        prompted = {tid: [i for i, b in enumerate(boxes) if b is not None][::self.prompt_every]
                    for tid, boxes in box_tracks.items()}
        prompted = {tid: frames for tid, frames in prompted.items() if frames}
        if not prompted:
            return rles, fallbacks
        predictor = self.predictor
        with torch.inference_mode():
            state = predictor.init_state(frame_dir)
            if state['num_frames'] != num_frames:
                raise RuntimeError(f'{frame_dir} holds {state["num_frames"]} frames, '
                                   f'the box tracks {num_frames}')
            for tid, frame_indices in prompted.items():
                for index in frame_indices:
                    predictor.add_new_points_or_box(
                        state, frame_idx=index, obj_id=tid,
                        box=np.asarray(box_tracks[tid][index], dtype=np.float32))
            for index, obj_ids, logits in predictor.propagate_in_video(state):
                masks = (logits[:, 0] > 0).cpu().numpy()
                for tid, mask in zip(obj_ids, masks):
                    box = box_tracks[tid][index]
                    if box is None:
                        continue
                    rle, fell_back = self._finish_mask(mask, box, height, width)
                    rles[tid][index] = rle
                    fallbacks[tid] += fell_back
            predictor.reset_state(state)
        return rles, fallbacks

    def _finish_mask(self, mask: np.ndarray, box: Box, height: int, width: int
                     ) -> Tuple[Rle, int]:
        if self.box_margin >= 0:
            limit = np.zeros_like(mask)
            limit[box_to_slices(box, height, width, self.box_margin)] = True
            mask = mask & limit
        if not mask.any():
            return encode_rle(box_mask(box, height, width)), 1
        return encode_rle(mask), 0
