"""SAM2 image features of a batch of frames, computed once and shared by every role."""
from dataclasses import dataclass
from typing import List, Optional, Sequence, Union

import torch
from torch import Tensor


@dataclass
class SAM2Features:
    """SAM2 image features of N frames, computed once and shared by every role.

    Attributes:
        image_embeddings: (N, C, h, w) top-level features (stride ``backbone_stride``).
        image_pos: (N, C, h, w) their sine positional encoding (for memory attention).
        high_res_features: ``[(N, C/8, 4h, 4w), (N, C/4, 2h, 2w)]`` already projected by
            the decoder's ``conv_s0`` / ``conv_s1``, or None when the model uses none.
    """
    image_embeddings: Tensor
    image_pos: Tensor
    high_res_features: Optional[List[Tensor]]

    def __len__(self) -> int:
        return self.image_embeddings.shape[0]

    def select(self, inds: Union[Tensor, Sequence[int]]) -> 'SAM2Features':
        """Features of the frames ``inds`` (index tensor or list)."""
        inds = torch.as_tensor(inds, device=self.image_embeddings.device, dtype=torch.long)
        high_res = None if self.high_res_features is None else [
            x[inds] for x in self.high_res_features]
        return SAM2Features(self.image_embeddings[inds], self.image_pos[inds], high_res)
