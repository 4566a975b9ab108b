"""The annotation files of a split: ``meta_expressions.json`` and ``mask_dict.json``.

The format (a superset of MeViS, so MeViS files read as actor-only)::

    meta_expressions.json
    {"videos": {"<video_id>": {"frames": ["00000", ...],
        "expressions": {"<exp_id>": {"exp": "the red ball pushing the blue box",
            "obj_id": [1], "anno_id": [10],                 # actor (MeViS fields)
            "target_obj_id": [2], "target_anno_id": [11],   # target; [] without interaction
            "pair_exp_id": "<exp_id of the role-swapped inverse>" or null}}}}}
    mask_dict.json
    {"<anno_id>": [COCO RLE {"size": [h, w], "counts": str} or null, ... one per frame]}

Several anno ids in one role mean the union of their masks; missing optional
fields take the MeViS meaning (no target, no pair).  Builders write these
files with :func:`write_annotations`; the dataset and the evaluation tools
read them with the checks below, which raise errors that name the file, the
video id and the expression id (``where``) and say what was expected.
"""
import json
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple

#: File names of the expressions and of the masks in a split folder.
META_FILE = 'meta_expressions.json'
MASK_FILE = 'mask_dict.json'


class InvalidAnnotationError(ValueError):
    """An annotation that cannot give a correct sample (names file, video, expression)."""


def read_json_file(path: str, what: str) -> Any:
    """Load a JSON file; errors name the file and say what it should hold.

    Args:
        path: the file.
        what: what the file holds, for the messages (e.g. ``'mask_dict'``).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: it is not valid (UTF-8) JSON.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    try:
        with open(path, 'r', encoding='utf-8') as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f'{path} is not valid JSON ({what}): {err}') from err


def write_json_file(path: str, content: Any) -> None:
    """Write compact JSON atomically: a reader never sees a half-written file."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    temp = f'{path}.{os.getpid()}.tmp'
    with open(temp, 'w', encoding='utf-8') as file:
        json.dump(content, file, separators=(',', ':'))
    os.replace(temp, path)


def write_annotations(split_dir: str, videos: Dict[str, dict],
                      mask_dict: Dict[str, list]) -> None:
    """Write ``meta_expressions.json`` (``{"videos": videos}``) and ``mask_dict.json``."""
    write_json_file(osp.join(split_dir, META_FILE), {'videos': videos})
    write_json_file(osp.join(split_dir, MASK_FILE), mask_dict)


def read_meta_expressions(path: str, what: str = 'expression file') -> Dict[str, Any]:
    """The ``videos`` mapping of an expression file.

    Raises:
        FileNotFoundError, ValueError: as :func:`read_json_file`, or the file
            is not ``{"videos": {<video_id>: ...}}``.
    """
    meta = read_json_file(path, what)
    videos = meta.get('videos') if isinstance(meta, dict) else None
    if not isinstance(videos, dict):
        raise ValueError(f'{path}: expected {{"videos": {{<video_id>: ...}}}}')
    return videos


def read_mask_dict(path: str) -> Dict[str, list]:
    """The ``{anno_id: [RLE or null per frame]}`` mapping of a mask file (not decoded).

    Raises:
        FileNotFoundError, ValueError: as :func:`read_json_file`, or not a mapping.
    """
    mask_dict = read_json_file(path, 'mask_dict (anno id -> per-frame RLE)')
    if not isinstance(mask_dict, dict):
        raise ValueError(f'{path}: expected {{"<anno_id>": [RLE or null, ...]}}')
    return mask_dict


def expression_ids(exps: Dict[str, Any]) -> List[str]:
    """The ids of a video's expressions, numeric ids in numeric order first."""
    def key(exp_id: str) -> Tuple[int, int, str]:
        return (0, int(exp_id), '') if exp_id.isdigit() else (1, 0, exp_id)
    return sorted(exps, key=key)


def video_expressions(entry: Any, where: str) -> Dict[str, Any]:
    """The ``expressions`` mapping of a video entry.

    Raises:
        InvalidAnnotationError: the entry is not ``{"frames": [...], "expressions": {...}}``.
    """
    exps = entry.get('expressions') if isinstance(entry, dict) else None
    if not isinstance(exps, dict):
        raise InvalidAnnotationError(
            f'{where}: expected {{"frames": [...], "expressions": {{...}}}}')
    return exps


def check_expression(text: Any, where: str) -> str:
    """The referring expression, which must be a string with a non-space character.

    Raises:
        InvalidAnnotationError: naming ``where`` and the value.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidAnnotationError(
            f'{where}: the expression ("exp") must be a non-empty string, got {text!r}')
    return text


def check_frame_names(frames: Any, where: str) -> List[str]:
    """The frame list of a video: a non-empty list of distinct names.

    Raises:
        InvalidAnnotationError: not a list of strings, empty (a video has at
            least one frame), or with repeated names.
    """
    if not isinstance(frames, list) or not all(isinstance(f, str) for f in frames):
        raise InvalidAnnotationError(f'{where}: "frames" must be a list of frame names')
    if not frames:
        raise InvalidAnnotationError(f'{where}: the video has 0 frames')
    if len(set(frames)) != len(frames):
        raise InvalidAnnotationError(f'{where}: the frame list has repeated names')
    return frames


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _int_ids(value: Any, name: str, where: str) -> List[int]:
    try:
        return [int(v) for v in _as_list(value)]
    except (TypeError, ValueError):
        raise InvalidAnnotationError(f'{where}: {name} must be a list of integers, got {value!r}')


def _str_ids(value: Any, name: str, where: str) -> List[str]:
    ids = _as_list(value)
    if not all(isinstance(v, (int, str)) and not isinstance(v, bool) for v in ids):
        raise InvalidAnnotationError(f'{where}: {name} must be a list of ids, got {value!r}')
    return [str(v) for v in ids]


def read_expression(exp: Any, where: str, with_roles: bool = True,
                    extra_keys: Sequence[str] = ()) -> Dict[str, Any]:
    """Read one expression entry of ``meta_expressions.json`` into the common fields.

    Args:
        exp: the raw entry (``{"exp": ..., "obj_id": ..., ...}``).
        where: ``"<file>: video <id> expression <id>"`` for error messages.
        with_roles: read the target fields and ``pair_exp_id`` (False: MeViS
            and the other actor-only layouts).
        extra_keys: keys copied unchanged when present.

    Returns:
        dict with expression, obj_id, anno_id, target_obj_id, target_anno_id
        (ids as int and str lists), pair_exp_id (str or None) and the extra
        keys that are present.

    Raises:
        InvalidAnnotationError: an empty expression, ids that are not lists
            of ids, a ``pair_exp_id`` that is not an id, or an anno id that is
            both actor and target.
    """
    if not isinstance(exp, dict):
        raise InvalidAnnotationError(f'{where}: expected an object with "exp", got {exp!r}')
    parsed = dict(
        expression=check_expression(exp.get('exp'), where),
        obj_id=_int_ids(exp.get('obj_id'), 'obj_id', where),
        anno_id=_str_ids(exp.get('anno_id'), 'anno_id', where),
        target_obj_id=[], target_anno_id=[], pair_exp_id=None)
    if with_roles:
        parsed['target_obj_id'] = _int_ids(exp.get('target_obj_id'), 'target_obj_id', where)
        parsed['target_anno_id'] = _str_ids(exp.get('target_anno_id'), 'target_anno_id', where)
        pair = exp.get('pair_exp_id')
        if pair is not None and not (isinstance(pair, (str, int)) and not isinstance(pair, bool)):
            raise InvalidAnnotationError(
                f'{where}: pair_exp_id must be an id or null, got {pair!r}')
        parsed['pair_exp_id'] = None if pair is None else str(pair)
        shared = set(parsed['anno_id']) & set(parsed['target_anno_id'])
        if shared:
            raise InvalidAnnotationError(
                f'{where}: anno ids {sorted(shared)} are both actor and target')
    for key in extra_keys:
        if key in exp:
            parsed[key] = exp[key]
    return parsed


def check_pair(pair_exp_id: Optional[str], exp_id: str, exps: Dict[str, Any],
               where: str) -> None:
    """A ``pair_exp_id`` must be None or another expression of the same video.

    Raises:
        InvalidAnnotationError: naming ``where`` and the pair id.
    """
    if pair_exp_id is not None and (pair_exp_id not in exps or pair_exp_id == exp_id):
        raise InvalidAnnotationError(
            f'{where}: pair_exp_id {pair_exp_id!r} is not another expression of this video')


def anno_mask_error(anno_id: str, mask_dict: dict, frame_names: Sequence[str],
                    shape: Optional[Sequence[int]], mask_path: str) -> Optional[str]:
    """Why the masks of ``anno_id`` in a mask_dict do not fit a video (None if they do).

    Checks, without decoding, that the anno id is present with one entry per
    frame, each a COCO RLE of the frame size or null.  Whether an RLE's runs
    cover its size is checked when it is decoded (:func:`mmreviosa.fileio.decode_rle`).

    Args:
        anno_id: the annotation id.
        mask_dict: ``{anno_id: [RLE or None per frame]}``.
        frame_names: the video's frames.
        shape: the frame size ``(H, W)``; None: the size of the first RLE,
            which every other RLE must share.
        mask_path: the mask_dict file, for the messages.

    Returns:
        str | None: the reason, naming the anno id, the file and the frame.
    """
    if anno_id not in mask_dict:
        return f'anno id {anno_id} is missing from {mask_path}'
    rles = mask_dict[anno_id]
    if not isinstance(rles, list) or len(rles) != len(frame_names):
        num = len(rles) if isinstance(rles, list) else type(rles).__name__
        return (f'anno id {anno_id} has {num} masks in {mask_path}, expected one '
                f'(RLE or null) per frame ({len(frame_names)})')
    expected = None if shape is None else [int(s) for s in shape]
    for name, rle in zip(frame_names, rles):
        if rle is None:
            continue
        if not isinstance(rle, dict) or 'counts' not in rle or not isinstance(
                rle.get('size'), (list, tuple)):
            return f'anno id {anno_id} frame {name}: expected a COCO RLE, got {rle!r:.80}'
        if expected is None:
            expected = list(rle['size'])
        elif list(rle['size']) != expected:
            return (f'anno id {anno_id} frame {name}: RLE size {list(rle["size"])} differs '
                    f'from the frame size {expected}')
    return None


def check_expression_masks(item: Dict[str, Any], frame_names: Sequence[str],
                           shape: Optional[Sequence[int]], mask_dict: dict, mask_path: str,
                           where: str, checked: Dict[tuple, Optional[str]]) -> None:
    """An expression read by :func:`read_expression` has an actor and masks that fit its video.

    Args:
        item: the expression (``anno_id``, ``target_anno_id``).
        frame_names: the video's frames.
        shape: the frame size ``(H, W)``, or None (see :func:`anno_mask_error`).
        mask_dict: ``{anno_id: [RLE or None per frame]}``.
        mask_path: the mask_dict file, for the messages.
        where: ``"<file>: video <id> expression <id>"``.
        checked: the reasons found so far (filled here): each anno id is
            checked once per frame count and size.

    Raises:
        InvalidAnnotationError: no actor anno id, or the first reason of
            :func:`anno_mask_error`, after ``where``.
    """
    if not item['anno_id']:
        raise InvalidAnnotationError(f'{where}: no actor anno_id')
    for anno_id in item['anno_id'] + item['target_anno_id']:
        key = (anno_id, len(frame_names), None if shape is None else tuple(shape))
        if key not in checked:
            checked[key] = anno_mask_error(anno_id, mask_dict, frame_names, shape, mask_path)
        if checked[key]:
            raise InvalidAnnotationError(f'{where}: {checked[key]}')
