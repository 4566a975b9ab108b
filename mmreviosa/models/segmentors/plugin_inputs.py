"""What :class:`~mmreviosa.models.segmentors.ReVIOSa` hands to its optional plug-ins.

Two kinds of plug-in, both registered in ``MODELS`` and built from the model config
(the ones that exist are in :mod:`mmreviosa.models.training_aids`):

* an auxiliary loss (``ReVIOSa(aux_losses=[...])``) is called as
  ``aux_loss(inputs: AuxLossInputs, sam2_head) -> dict`` during training and returns its
  own ``loss_*`` terms, already multiplied by its ``loss_weight``;
* a point prompter (``ReVIOSa(point_prompter=...)``) adds to the role prompts from the
  role tokens' attention (:class:`RoleAttention`).

A plug-in whose class sets ``uses_point_embedding = True`` calls
``SAM2Head.embed_points``: the model then trains SAM's foreground point embedding.
"""
from dataclasses import dataclass
from typing import List, Sequence

from torch import Tensor

from mmreviosa.models.heads.sam2_features import SAM2Features


@dataclass
class AuxLossInputs:
    """One training batch as the auxiliary losses see it (N = sum of T_b frames).

    Attributes:
        features: SAM2 features of the N frames (with gradients where SAM2 trains).
        role_prompts: (N, R, C) each sample's projected role prompts repeated over its
            frames, before any point prompt is added.
        gt_masks: (N, R, S, S) float GT masks of the R roles at SAM2's input size S.
        weights: (N, R) float in {0, 1}: 1 where the role is supervised (the target only
            with an interaction).
        role_names: the R role names of loss keys: ``('actor', 'target')`` or ``('seg',)``.
        num_frames: T_b of each sample, in batch order.
    """
    features: SAM2Features
    role_prompts: Tensor
    gt_masks: Tensor
    weights: Tensor
    role_names: Sequence[str]
    num_frames: List[int]


@dataclass
class RoleAttention:
    """The role tokens' attention over a batch of token sequences.

    Attributes:
        rows: (B, n_layers, n_heads, R, L) attention rows of the R role tokens, in the
            layers / heads the model captures (``ReVIOSa(aml_layers, aml_heads)``).
        input_ids: (B, L) the sequences.
        image_token_id: id of the image-context token.
        tokens_per_frame: image tokens per key frame (a square patch grid).
        num_key_frames: K, the key frames every sequence shows.
    """
    rows: Tensor
    input_ids: Tensor
    image_token_id: int
    tokens_per_frame: int
    num_key_frames: int
