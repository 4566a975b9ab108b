"""A split's annotations, read and checked as ``InterRVOSDataset`` checks them.

For the tools that score or inspect annotations without the frames
(``tools/analysis_tools/eval_predictions.py``, ``baselines.py``): the same
checks as the dataset's (:mod:`mmreviosa.fileio.annotations`) in the same
order, so a split the dataset rejects is rejected here with the same message.
"""
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from .annotations import (MASK_FILE, META_FILE, check_expression_masks, check_frame_names,
                          check_pair, expression_ids, read_expression, read_mask_dict,
                          read_meta_expressions, video_expressions)


@dataclass
class SplitAnnotations:
    """The checked annotations of a split.

    Attributes:
        expressions: one dict per expression, sorted by ``(video_id,
            exp_id)``: video_id, exp_id, expression, frame_names, obj_id,
            anno_id (actor), target_obj_id, target_anno_id ([] without an
            interaction), has_interaction and pair_exp_id.
        videos: the video entries of ``meta_expressions.json`` as written
            (with a builder's extra fields, e.g. InterShapes' ``objects``).
        mask_dict: ``{anno_id: [RLE or None per frame]}``, not decoded.
        meta_path: the expression file.
        mask_path: the mask file.
    """
    expressions: List[dict]
    videos: Dict[str, dict]
    mask_dict: Dict[str, list]
    meta_path: str
    mask_path: str


def read_split(split_root: str) -> SplitAnnotations:
    """Expressions and masks of a split (InterRVOS or MeViS), checked against each other.

    Args:
        split_root: folder with ``meta_expressions.json`` and ``mask_dict.json``.

    Raises:
        ValueError: malformed JSON, a video without frames, an empty
            expression, one without an actor anno id, a ``pair_exp_id`` that
            is not another expression of the video, an anno id missing from
            the mask_dict, without one RLE (or null) per frame, or with RLEs
            of different sizes; each naming the files, video and expression
            (``InvalidAnnotationError`` is a ``ValueError``).
    """
    meta_path = osp.join(split_root, META_FILE)
    mask_path = osp.join(split_root, MASK_FILE)
    videos = read_meta_expressions(meta_path)
    mask_dict = read_mask_dict(mask_path)
    checked: Dict[tuple, Optional[str]] = {}
    expressions = []
    for video_id, entry in videos.items():
        where_video = f'{meta_path}: video {video_id}'
        exps = video_expressions(entry, where_video)
        frame_names = check_frame_names(entry.get('frames'), where_video)
        for exp_id in expression_ids(exps):
            where = f'{where_video} expression {exp_id}'
            # MeViS entries lack the target fields and read as actor-only.
            item = read_expression(exps[exp_id], where)
            check_pair(item['pair_exp_id'], exp_id, exps, where)
            check_expression_masks(item, frame_names, None, mask_dict, mask_path, where, checked)
            item.update(video_id=str(video_id), exp_id=str(exp_id),
                        frame_names=list(frame_names),
                        has_interaction=bool(item['target_anno_id']))
            expressions.append(item)
    expressions.sort(key=lambda e: (e['video_id'], e['exp_id']))
    return SplitAnnotations(expressions, videos, mask_dict, meta_path, mask_path)


def annotation_frame_shape(mask_dict: Dict[str, list],
                           anno_ids: Sequence[str]) -> Optional[Tuple[int, int]]:
    """``(H, W)`` of the first non-empty RLE of the given annotations (None: all empty)."""
    for anno_id in anno_ids:
        for rle in mask_dict.get(anno_id, []):
            if rle is not None:
                return tuple(int(size) for size in rle['size'])
    return None
