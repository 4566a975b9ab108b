"""Checking that a tokenized item fits the context of the MLLM."""
from typing import Dict

from mmcv.transforms import BaseTransform

from mmreviosa.fileio import InvalidAnnotationError
from mmreviosa.registry import TRANSFORMS


@TRANSFORMS.register_module()
class CheckContextLength(BaseTransform):
    """Reject an item whose token sequence does not fit the MLLM's positions.

    A sequence longer than the language model's ``max_position_embeddings``
    runs without an error, at positions the model never saw, so it scores
    worse, and in training such a step takes many times longer.  Place this
    after ``TokenizeConversation``; ``max_length`` is the MLLM's
    ``max_position_embeddings``.

    The error names the expression file (``ann_file``, which
    ``InterRVOSDataset`` items carry), the video and the expression, with the
    token count and the limit.  With ``InterRVOSDataset(skip_invalid=True)``
    a training item that fails is skipped with a logged warning and another
    item is drawn; at test time it stays an error, since every test item is
    scored.

    Required keys: ``input_ids`` (L,).  Read for the message when present:
    ``ann_file``, ``video_id``, ``exp_id``, ``expression``.

    Args:
        max_length (int): the MLLM's ``max_position_embeddings``.
        reserved (int): positions kept free for the answer the model
            generates at test time (its ``test_cfg.max_new_tokens``); 0 in
            training, where ``input_ids`` already hold the answer.

    Raises:
        InvalidAnnotationError: ``len(input_ids) > max_length - reserved``.
    """

    def __init__(self, max_length: int, reserved: int = 0):
        if max_length < 1 or not 0 <= reserved < max_length:
            raise ValueError(f'need max_length >= 1 and 0 <= reserved < max_length, got '
                             f'{max_length}, {reserved}')
        self.max_length = max_length
        self.reserved = reserved

    def transform(self, results: Dict) -> Dict:
        num_tokens = len(results['input_ids'])
        if num_tokens <= self.max_length - self.reserved:
            return results
        where = f'video {results.get("video_id")} expression {results.get("exp_id")}'
        if results.get('ann_file'):
            where = f'{results["ann_file"]}: {where}'
        kept = f', {self.reserved} of them kept for the answer' if self.reserved else ''
        turns = results.get('turns')
        if turns:  # a packed item (mmreviosa.datasets.packing)
            words = sum(len(str(t.get('expression', '')).split()) for t in turns)
            advice = (f'the {len(turns)} packed expressions have {words} words: pack fewer '
                      '(the dataset\'s expressions_per_item)')
        else:
            words = len(str(results.get('expression', '')).split())
            advice = f'the expression has {words} words: shorten it'
        raise InvalidAnnotationError(
            f'{where}: {num_tokens} tokens, more than the {self.max_length} positions of the '
            f'MLLM (max_position_embeddings{kept}); {advice}')

    def __repr__(self) -> str:
        return f'{type(self).__name__}(max_length={self.max_length}, reserved={self.reserved})'
