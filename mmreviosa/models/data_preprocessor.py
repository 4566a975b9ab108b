"""Batch the (video, expression) items: pad tokens, normalise frames on the device."""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.model import BaseDataPreprocessor

from mmreviosa.fileio import IMAGENET_MEAN_255, IMAGENET_STD_255
from mmreviosa.registry import MODELS
from mmreviosa.structures import PackedDataSamples
from mmreviosa.text import IGNORE_INDEX


@MODELS.register_module()
class InterRVOSDataPreprocessor(BaseDataPreprocessor):
    """Collate InterRVOS items into model inputs.

    Frames travel as uint8 and are normalised here, on the model's device.
    Token sequences are padded on the right for training (labels present) and
    on the left for generation (no labels), as decoder-only generation needs.
    The data samples (GT masks) are moved to the model's device too, as
    MMEngine's ``cast_data`` convention asks: DDP does not move
    ``BaseDataElement``s, and the losses build their targets from them.

    Args:
        pad_token_id (int): id used to pad ``input_ids``.
        mllm_mean, mllm_std, sam_mean, sam_std: per-channel statistics on the
            0-255 scale; ImageNet's by default, what InternVL-2.5 and SAM2 both expect.

    Returns (from ``forward``):
        dict(inputs=dict(
            input_ids (B, L) long, attention_mask (B, L) long,
            labels (B, L) long or None,
            mllm_pixels (sum K_b, 3, Sm, Sm) float, num_key_frames list[int],
            sam_pixels (sum T_b, 3, Ss, Ss) float, num_frames list[int],
            num_turns list[int]),
            data_samples=list[InterRVOSDataSample])

    A packed item (:class:`PackedDataSamples`, several expressions of one video in one
    conversation) contributes its turns' data samples in order; ``num_turns`` holds each
    item's count (all 1 without packing), so ``data_samples`` has ``sum(num_turns)``
    entries.
    """

    def __init__(self, pad_token_id: int = 0,
                 mllm_mean: Sequence[float] = IMAGENET_MEAN_255,
                 mllm_std: Sequence[float] = IMAGENET_STD_255,
                 sam_mean: Sequence[float] = IMAGENET_MEAN_255,
                 sam_std: Sequence[float] = IMAGENET_STD_255):
        super().__init__()
        self.pad_token_id = pad_token_id
        for name, value in (('mllm_mean', mllm_mean), ('mllm_std', mllm_std),
                            ('sam_mean', sam_mean), ('sam_std', sam_std)):
            self.register_buffer(name, torch.tensor(value, dtype=torch.float32).view(-1, 1, 1),
                                 persistent=False)

    def _pad(self, seqs: List[torch.Tensor], value: int, left: bool) -> torch.Tensor:
        length = max(len(s) for s in seqs)
        out = seqs[0].new_full((len(seqs), length), value)
        for i, s in enumerate(seqs):
            if left:
                out[i, length - len(s):] = s
            else:
                out[i, :len(s)] = s
        return out

    def _normalize(self, frames: List[torch.Tensor], mean: torch.Tensor,
                   std: torch.Tensor) -> torch.Tensor:
        """(N_b, 3, S, S) uint8 per sample -> one (sum N_b, 3, S, S) float batch.

        Each sample is converted into its slice of the output and normalised in
        place: one float copy of the frames, not three (long test videos at
        1024 px would otherwise triple the largest input of the batch).
        """
        shapes = {tuple(f.shape[1:]) for f in frames}
        assert len(shapes) == 1 and all(f.dim() == 4 and f.shape[1] == 3 for f in frames), (
            f'frames must be (N, 3, S, S) of one size, got {[tuple(f.shape) for f in frames]}')
        pixels = torch.empty((sum(len(f) for f in frames), *shapes.pop()), dtype=torch.float32,
                             device=self.device)
        start = 0
        for f in frames:
            chunk = pixels[start:start + len(f)]
            chunk.copy_(self.cast_data(f))
            chunk.sub_(mean).div_(std)
            start += len(f)
        return pixels

    @staticmethod
    def _flatten_turns(data_samples, num_items: int):
        """One flat list of data samples and the turn count of each item."""
        if data_samples is None:
            return None, [1] * num_items
        flat, num_turns = [], []
        for sample in data_samples:
            if isinstance(sample, PackedDataSamples):
                flat.extend(sample)
                num_turns.append(len(sample))
            else:
                flat.append(sample)
                num_turns.append(1)
        return flat, num_turns

    def forward(self, data: dict, training: bool = False) -> Dict:
        inputs = data['inputs']
        # pseudo_collate turns a list of dicts into a dict of lists; accept both.
        if isinstance(inputs, dict):
            inputs = [dict(zip(inputs, values)) for values in zip(*inputs.values())]
        data_samples, num_turns = self._flatten_turns(data.get('data_samples'), len(inputs))
        input_ids = [x['input_ids'] for x in inputs]
        with_labels = all('labels' in x for x in inputs)
        left = not with_labels
        batch_ids = self._pad(input_ids, self.pad_token_id, left)
        attention_mask = self._pad([torch.ones_like(x) for x in input_ids], 0, left)
        labels: Optional[torch.Tensor] = None
        if with_labels:
            labels = self._pad([x['labels'] for x in inputs], IGNORE_INDEX, left)
        model_inputs = dict(
            input_ids=self.cast_data(batch_ids),
            attention_mask=self.cast_data(attention_mask),
            labels=self.cast_data(labels) if labels is not None else None,
            mllm_pixels=self._normalize([x['mllm_pixels'] for x in inputs],
                                        self.mllm_mean, self.mllm_std),
            num_key_frames=[len(x['mllm_pixels']) for x in inputs],
            sam_pixels=self._normalize([x['sam_pixels'] for x in inputs],
                                       self.sam_mean, self.sam_std),
            num_frames=[len(x['sam_pixels']) for x in inputs],
            num_turns=num_turns)
        return dict(inputs=model_inputs, data_samples=self.cast_data(data_samples))
