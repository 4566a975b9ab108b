"""Several expressions of one video in one training item (a multi-turn conversation).

A *packed* item holds the fields its expressions share (the video: frames, size, mask
format) once, and one dict per expression under ``turns``: its ids, words, roles and
masks. The pipeline samples and reads the frames once; the transforms that concern an
expression (masks, flipping the words, the conversation, packing) handle each turn. The
model then runs the MLLM once over all turns and encodes the frames with SAM2 once, and
supervises every turn's role tokens with that turn's masks.

An unpacked item (one expression) has no ``turns``; every transform behaves as before.
"""
import random
from typing import Dict, Iterator, List, Sequence

#: Fields of an item that belong to its expression (the rest belong to the video).
TURN_KEYS = ('exp_id', 'expression', 'obj_id', 'anno_id', 'target_obj_id', 'target_anno_id',
             'has_interaction', 'pair_exp_id', 'type_id', 'actor_rles',
             'target_rles', 'gt_actor_masks', 'gt_target_masks', 'question', 'answer')


def is_packed(results: Dict) -> bool:
    """Whether ``results`` is a packed item (has ``turns``)."""
    return results.get('turns') is not None


def expressions_of(results: Dict) -> List[Dict]:
    """The dicts holding an item's expression fields: each turn of a packed item, or the
    item itself (modifying them modifies the item)."""
    return results['turns'] if is_packed(results) else [results]


def turn_views(results: Dict) -> Iterator[Dict]:
    """Each turn of a packed item as a full item: the shared fields overlaid with the
    turn's own (a new dict; write results back into ``results['turns'][k]``)."""
    shared = {k: v for k, v in results.items() if k != 'turns'}
    for turn in results['turns']:
        yield {**shared, **turn}


def group_expressions(data_list: List[dict], per_item: int, seed: int = 0) -> List[dict]:
    """Group the expression items of each video into packed items of ``per_item`` turns.

    Every expression is in exactly one group, so an epoch over the groups visits every
    expression once; a video with ``n`` expressions gives ``ceil(n / per_item)`` groups
    (the last one may be shorter). Within a video the expressions are shuffled with
    ``seed`` before chunking, so a group does not always hold an expression and its pair
    (their ids are usually consecutive) in the same order; the grouping is the same in
    every process (DDP ranks must agree on the dataset).

    Args:
        data_list: expression items (``InterRVOSDataset``'s), each with ``video_id``.
        per_item: expressions per packed item (>= 1).
        seed: seed of the shuffle within each video.

    Returns:
        list[dict]: packed items: the video fields of the first expression, ``turns``
        (the expression fields of each, :data:`TURN_KEYS`) and ``exp_id`` (the turns'
        ids joined by commas, for messages).
    """
    if per_item < 1:
        raise ValueError(f'expressions per item must be >= 1, got {per_item}')
    by_video: Dict[str, List[dict]] = {}
    for item in data_list:
        by_video.setdefault(item['video_id'], []).append(item)
    rng = random.Random(seed)
    groups = []
    for video_id in sorted(by_video):
        items = list(by_video[video_id])
        rng.shuffle(items)
        for start in range(0, len(items), per_item):
            chunk = items[start:start + per_item]
            groups.append(pack_items(chunk))
    return groups


def pack_items(items: Sequence[dict]) -> dict:
    """One packed item from expression items of the same video."""
    videos = {item['video_id'] for item in items}
    if len(videos) != 1:
        raise ValueError(f'a packed item holds expressions of one video, got {sorted(videos)}')
    shared = {k: v for k, v in items[0].items() if k not in TURN_KEYS}
    turns = [{k: v for k, v in item.items() if k in TURN_KEYS} for item in items]
    return dict(shared, turns=turns, exp_id=','.join(str(t['exp_id']) for t in turns))
