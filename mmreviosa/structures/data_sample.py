"""The data sample of one (video, expression) pair."""
from typing import Optional

import torch
from mmengine.structures import BaseDataElement


class InterRVOSDataSample(BaseDataElement):
    """Annotations and predictions of one (video, expression) pair.

    All masks are at the original frame resolution ``metainfo['ori_shape']``
    and cover the frames listed in ``metainfo['frame_names']`` (the sampled
    frames: T of them in training, every frame at test time).

    Metainfo keys (set by ``PackInterRVOSInputs``):
        video_id (str), exp_id (str), expression (str),
        frame_names (list[str]), frame_inds (list[int]): indices into the
        video's full frame list, key_frame_inds (list[int]): indices into
        ``frame_names`` of the frames the MLLM reads,
        ori_shape (tuple[int, int]), has_interaction (bool),
        pair_exp_id (str | None), num_video_frames (int),
        role_token_ids (dict[str, int] | None): ids the pipeline's tokenizer
        gave the role tokens; the model checks them against its own.

    Data fields:
        gt_actor_masks (Tensor): (T, H, W) bool, union of the actor's annos.
        gt_target_masks (Tensor): (T, H, W) bool; all False when
            ``has_interaction`` is False.
        pred_actor_masks (Tensor): (T, H, W) bool.
        pred_target_masks (Tensor | None): (T, H, W) bool, or None when the
            model answered with a single role token.
        pred_text (str): the generated answer.
    """

    def _set_mask(self, name: str, value: Optional[torch.Tensor]) -> None:
        if value is not None:
            assert isinstance(value, torch.Tensor) and value.dim() == 3, (
                f'{name} must be a (T, H, W) tensor, got '
                f'{type(value).__name__} {getattr(value, "shape", None)}')
        self.set_field(value, name)

    @property
    def gt_actor_masks(self) -> torch.Tensor:
        return self._gt_actor_masks

    @gt_actor_masks.setter
    def gt_actor_masks(self, value: torch.Tensor) -> None:
        self._set_mask('_gt_actor_masks', value)

    @gt_actor_masks.deleter
    def gt_actor_masks(self) -> None:
        del self._gt_actor_masks

    @property
    def gt_target_masks(self) -> torch.Tensor:
        return self._gt_target_masks

    @gt_target_masks.setter
    def gt_target_masks(self, value: torch.Tensor) -> None:
        self._set_mask('_gt_target_masks', value)

    @gt_target_masks.deleter
    def gt_target_masks(self) -> None:
        del self._gt_target_masks

    @property
    def pred_actor_masks(self) -> torch.Tensor:
        return self._pred_actor_masks

    @pred_actor_masks.setter
    def pred_actor_masks(self, value: torch.Tensor) -> None:
        self._set_mask('_pred_actor_masks', value)

    @pred_actor_masks.deleter
    def pred_actor_masks(self) -> None:
        del self._pred_actor_masks

    @property
    def pred_target_masks(self) -> Optional[torch.Tensor]:
        return self._pred_target_masks

    @pred_target_masks.setter
    def pred_target_masks(self, value: Optional[torch.Tensor]) -> None:
        self._set_mask('_pred_target_masks', value)

    @pred_target_masks.deleter
    def pred_target_masks(self) -> None:
        del self._pred_target_masks


class PackedDataSamples:
    """The data samples of one packed training item, one per turn, in conversation order.

    A packed item (several expressions of one video in a multi-turn conversation) has
    several data samples. Collate functions transpose lists and tuples; this container is
    neither, so ``pseudo_collate`` keeps it whole, and the data preprocessor flattens the
    batch into one list of data samples with each item's turn count.
    """

    def __init__(self, samples):
        self.samples = list(samples)
        if not self.samples or not all(isinstance(s, InterRVOSDataSample) for s in self.samples):
            raise TypeError('PackedDataSamples holds one or more InterRVOSDataSample, got '
                            f'{[type(s).__name__ for s in self.samples]}')

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self):
        return iter(self.samples)

    def __repr__(self) -> str:
        ids = [(s.video_id, s.exp_id) for s in self.samples]
        return f'{type(self).__name__}({ids})'
