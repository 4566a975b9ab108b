"""Where each expression of a batch is when training items pack several (turns).

A packed item (``mmreviosa.datasets.packing``) is one token sequence holding several turns
and one set of frames. :func:`layout_turns` finds every turn's role tokens and says, per
expression, which sequence and which frames it belongs to, so that ReVIOSa can run the MLLM
and SAM2's image encoder once per item and everything after them once per expression, as
for a batch of one-expression items.
"""
from dataclasses import dataclass
from itertools import accumulate
from typing import Optional, Sequence

import torch

from .role_utils import find_turn_role_positions, turn_items


@dataclass
class TurnLayout:
    """The expressions (turns) of a batch.

    Attributes:
        positions (Tensor): (E, R) role-token positions of each expression in its sequence.
        found (Tensor): (E, R) bool, whether each role token is in the turn's answer.
        items (Tensor): (E,) the sequence (item) of each expression.
        capture (Tensor): (B, Q) positions whose attention rows the MLLM forward captures:
            every turn's role positions, padded with a valid position whose row is unread.
        slots (Tensor | None): (E, R) where each expression's rows are among the Q; None
            with one expression per item (Q = R, the rows are already per expression).
        inputs (dict): the batch's inputs per expression: ``input_ids`` (E, L),
            ``num_frames`` and ``num_key_frames`` (E entries), ``frame_index`` (the frames
            of each expression in ``sam_pixels``, concatenated; absent with one expression
            per item); the other keys as in the batch.
    """
    positions: torch.Tensor
    found: torch.Tensor
    items: torch.Tensor
    capture: torch.Tensor
    slots: Optional[torch.Tensor]
    inputs: dict

    @property
    def packed(self) -> bool:
        return self.slots is not None

    def attention(self, rows: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        """(B, n_layers, n_heads, Q, L) captured rows -> (E, n_layers, n_heads, R, L)."""
        if rows is None or not self.packed:
            return rows
        return rows[self.items[:, None], :, :, self.slots].permute(0, 2, 3, 1, 4)

    def features(self, feats):
        """``SAM2Features`` of the batch's frames -> the frames of each expression."""
        return feats.select(self.inputs['frame_index']) if self.packed else feats


def layout_turns(inputs: dict, role_ids: Sequence[int]) -> TurnLayout:
    """The :class:`TurnLayout` of a preprocessed batch (``inputs['num_turns']``: turns per
    item, all 1 when absent)."""
    input_ids = inputs['input_ids']
    num_turns = list(inputs.get('num_turns') or [1] * input_ids.shape[0])
    positions, found = find_turn_role_positions(input_ids, role_ids, num_turns)
    items = turn_items(num_turns, input_ids.device)
    if len(items) == input_ids.shape[0]:  # one expression per item
        return TurnLayout(positions, found, items, positions, None, inputs)
    num_roles = positions.shape[1]
    capture = positions.new_zeros((len(num_turns), max(num_turns) * num_roles))
    slots, row = [], 0
    for b, turns in enumerate(num_turns):
        rows = positions[row:row + turns].flatten()
        capture[b] = rows[0]
        capture[b, :rows.numel()] = rows
        slots.append(torch.arange(rows.numel(), device=positions.device).view(turns, -1))
        row += turns
    starts = [0, *accumulate(inputs['num_frames'])]
    item_list = items.tolist()
    frame_index = torch.cat([torch.arange(starts[b], starts[b + 1], device=input_ids.device)
                             for b in item_list])
    per_expression = dict(inputs, input_ids=input_ids[items],
                          num_frames=[inputs['num_frames'][b] for b in item_list],
                          num_key_frames=[inputs['num_key_frames'][b] for b in item_list],
                          frame_index=frame_index)
    return TurnLayout(positions, found, items, capture, torch.cat(slots), per_expression)
