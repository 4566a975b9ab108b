"""Where each supported dataset keeps its files, and how its expressions read.

Every layout is read into the same per-expression fields (contract 2 of the
InterRVOS data format)::

    expression (str), obj_id (list[int]), anno_id (list[str]),
    target_obj_id (list[int]), target_anno_id (list[str]),
    pair_exp_id (str | None), plus the layout's extra keys (ReVOS: type_id)

Layouts (``data_root`` is always the folder holding ``JPEGImages/``):

``interrvos``
    ``meta_expressions.json`` + ``mask_dict.json`` (COCO RLE per anno id and
    frame) with the actor and target fields; MeViS files read as actor-only.
``mevis``
    MeViS (``train``, ``valid_u``, ``valid``): the same files; only ``exp``,
    ``obj_id`` and ``anno_id`` are read, so every expression is actor-only.
``revos``
    ReVOS: one folder for all splits, with ``meta_expressions_train_.json``
    (default when ``test_mode=False``) or ``meta_expressions_valid_.json``
    (default when ``test_mode=True``) and ``mask_dict.json``; ``type_id``
    (0 referring, 1 reasoning) is kept.  Actor-only.
``refytvos`` / ``refdavis``
    Ref-YouTube-VOS and Ref-DAVIS17 (the Ref-YouTube-VOS-style layout of the
    DAVIS text annotations): ``ROOT/<split>/{JPEGImages,Annotations}`` with the
    expressions in ``ROOT/meta_expressions/<split>/meta_expressions.json``
    (or ``<split>/meta_expressions.json``).  Masks are palette PNGs
    ``Annotations/<video>/<frame>.png`` whose pixel values are the object ids;
    each expression names one ``obj_id``.  Actor-only; ``anno_id`` is empty.
"""
import os.path as osp
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

from mmreviosa.fileio import read_expression

__all__ = ['Layout', 'LAYOUTS', 'get_layout', 'resolve_ann_file', 'parse_expression']


@dataclass(frozen=True)
class Layout:
    """Files and fields of one dataset layout.

    Args:
        ann_files: candidate expression files relative to ``data_root``
            (``{split}`` is the name of the ``data_root`` folder); the first
            that exists is read.
        test_ann_files: candidates used instead when ``test_mode=True``
            (empty: the same as ``ann_files``).
        mask_file: the mask source relative to ``data_root``: a mask_dict JSON
            (``mask_format='rle'``) or a folder of palette PNGs ('palette').
        mask_format: 'rle' or 'palette'.
        with_roles: read the target fields and ``pair_exp_id``.
        extra_keys: expression keys copied unchanged when present.
    """
    ann_files: Tuple[str, ...]
    mask_file: str
    mask_format: str
    with_roles: bool = False
    test_ann_files: Tuple[str, ...] = ()
    extra_keys: Tuple[str, ...] = field(default_factory=tuple)


_YTVOS_ANN_FILES = ('meta_expressions.json',
                    osp.join('..', 'meta_expressions', '{split}', 'meta_expressions.json'))

LAYOUTS: Dict[str, Layout] = {
    'interrvos': Layout(('meta_expressions.json', ), 'mask_dict.json', 'rle', with_roles=True),
    'mevis': Layout(('meta_expressions.json', ), 'mask_dict.json', 'rle'),
    'revos': Layout(('meta_expressions_train_.json', ), 'mask_dict.json', 'rle',
                    test_ann_files=('meta_expressions_valid_.json', ),
                    extra_keys=('type_id', )),
    'refytvos': Layout(_YTVOS_ANN_FILES, 'Annotations', 'palette'),
    'refdavis': Layout(_YTVOS_ANN_FILES, 'Annotations', 'palette'),
}


def get_layout(name: str) -> Layout:
    """The :class:`Layout` called ``name``; raises listing the known ones."""
    if name not in LAYOUTS:
        raise ValueError(f'Unknown dataset layout {name!r}; expected one of {sorted(LAYOUTS)}')
    return LAYOUTS[name]


def resolve_ann_file(layout: str, data_root: str, ann_file: Optional[str] = None,
                     test_mode: bool = False) -> str:
    """Path of the expression file of ``data_root`` under ``layout``.

    Args:
        layout: a key of :data:`LAYOUTS`.
        data_root: the split folder.
        ann_file: an explicit file (absolute, or relative to ``data_root``);
            ``None`` picks the first existing default of the layout.
        test_mode: use the layout's test-time defaults (ReVOS).

    Returns:
        str: the absolute path (not checked for existence when ``ann_file`` is given).
    """
    spec = get_layout(layout)
    if ann_file is not None:
        return osp.abspath(ann_file if osp.isabs(ann_file) else osp.join(data_root, ann_file))
    split = osp.basename(osp.normpath(data_root))
    candidates = spec.test_ann_files if (test_mode and spec.test_ann_files) else spec.ann_files
    paths = [osp.abspath(osp.join(data_root, c.format(split=split))) for c in candidates]
    for path in paths:
        if osp.isfile(path):
            return path
    raise FileNotFoundError(
        f'No expression file for layout {layout!r} under {data_root}: tried {paths}')


def parse_expression(layout: str, exp: Any, where: str) -> Dict[str, Any]:
    """Read one expression entry of ``meta_expressions.json`` into the common fields.

    Args:
        layout: a key of :data:`LAYOUTS`.
        exp: the raw entry (``{"exp": ..., "obj_id": ..., ...}``).
        where: ``"<file>: video <id> expression <id>"`` for error messages.

    Returns:
        dict with expression, obj_id, anno_id, target_obj_id, target_anno_id,
        pair_exp_id and the layout's extra keys that are present (see
        :func:`mmreviosa.fileio.read_expression`).
    """
    spec = get_layout(layout)
    return read_expression(exp, where, spec.with_roles, spec.extra_keys)
