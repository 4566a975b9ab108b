"""The InterRVOS dataset: one item per (video, expression) pair."""
import logging
import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Union

from mmengine.dataset import BaseDataset, force_full_init
from mmengine.logging import print_log
from mmengine.registry import DefaultScope

from mmreviosa.datasets.layouts import get_layout, parse_expression, resolve_ann_file
from mmreviosa.datasets.packing import expressions_of, group_expressions
from mmreviosa.datasets.pickled_store import PickledStore
from mmreviosa.fileio import (VIDEO_EXTENSIONS, InvalidAnnotationError, check_expression_masks,
                              check_frame_names, check_pair, count_video_frames,
                              expression_ids, frame_names_for_length, image_size,
                              list_frame_names, read_mask_dict, read_meta_expressions,
                              video_expressions, video_frame_size)
from mmreviosa.registry import DATASETS

#: Folder of the per-video JPEG folders (and, optionally, of video files).
FRAME_FOLDER = 'JPEGImages'
#: Folders searched, in order, for ``<video_id>.<ext>`` when no JPEG folder exists.
VIDEO_FOLDERS = (FRAME_FOLDER, 'videos')


def _image_size(path: str, where: str) -> tuple:
    """``(H, W)`` from an image header; an unreadable image is an invalid annotation."""
    try:
        return image_size(path)
    except OSError as err:
        raise InvalidAnnotationError(f'{where}: {err}') from err


@DATASETS.register_module()
class InterRVOSDataset(BaseDataset):
    """Referring video object segmentation with actor and target roles.

    ``data_root`` is a split folder (e.g. ``data/intershapes/valid``) with
    ``JPEGImages/<video>/<frame>.jpg``, ``meta_expressions.json`` and
    ``mask_dict.json`` (see ``layouts.py`` for MeViS, ReVOS, Ref-YouTube-VOS and
    Ref-DAVIS).  Instead of a JPEG folder a video may be a file
    ``JPEGImages/<video>.mp4`` or ``videos/<video>.mp4`` (any suffix of
    ``VIDEO_EXTENSIONS``), decoded with PyAV; its frame names are the
    meta file's ``frames`` (whose length must equal the decoded frame count)
    or, when absent, zero-padded indices.

    Each item (``get_data_info``) holds: video_id, exp_id, expression,
    frame_names (all frames of the video), frame_paths (None for a video
    file), video_path (None for JPEGs), ann_file (for error messages),
    num_video_frames, ori_shape (H, W), obj_id, anno_id (actor),
    target_obj_id, target_anno_id ([] without an interaction),
    has_interaction (``bool(target_anno_id)``), pair_exp_id (None if
    missing), mask_format ('rle', 'palette' or None when the split has no
    masks), sample_idx, type_id (ReVOS), and the mask source:
    ``actor_rles`` / ``target_rles`` (one list of per-frame RLE-or-None per
    anno id) for 'rle', ``mask_paths`` (one PNG per frame) for 'palette'.

    Memory: the masks and frame lists are stored once per dataset in
    :class:`PickledStore` byte buffers (not per item, not as Python objects),
    and the serialized items hold only ids, so N workers share them.

    Validation at load time (each a clear error naming the file, video id and
    expression id; with ``skip_invalid=True`` a logged skip instead, with a
    summary count, and the list in ``self.skipped``): unreadable or malformed
    JSON (always an error); a video with 0 frames; a frame list naming files
    missing from the folder (extra files in the folder are allowed); a first
    frame whose header cannot be read; an anno id missing from mask_dict; a
    mask list whose length differs from the frame count; an RLE whose size
    differs from the frame size; an expression without an actor (when masks
    exist); a ``pair_exp_id`` not in the video.  A video with a single frame
    is allowed (training samples it repeatedly).  Decoding errors of a frame
    (corrupt JPEG) or of an RLE (runs not covering the frame) surface in
    ``LoadVideoFrames`` / ``LoadRoleMasks`` with the same naming.  An item
    the pipeline rejects as invalid (``InvalidAnnotationError``, e.g. an
    expression longer than the MLLM's context, see ``CheckContextLength``)
    is, with ``skip_invalid=True`` and in training, skipped with a logged
    warning and another item drawn; at test time it is an error.

    Args:
        data_root (str): the split folder.
        pipeline (list[dict | callable]): transforms; unscoped types are looked
            up in the mmreviosa registry whatever the current default scope.
        layout (str): 'interrvos', 'mevis', 'revos', 'refytvos' or 'refdavis'.
        ann_file (str, optional): expression file (absolute or relative to
            ``data_root``); default: the layout's.
        mask_file (str, optional): mask_dict JSON or palette-PNG folder
            relative to ``data_root``; default: the layout's.  When it does not
            exist, ``test_mode=True`` loads items without masks and
            ``test_mode=False`` raises.
        frame_ext (str): suffix of the frame files.
        skip_invalid (bool): skip (and log) invalid expressions instead of raising.
        max_expressions (int, optional): keep the first N expressions (videos sorted
            by id, expressions by numeric id).
        expressions_per_item (int): training only: each item packs up to this many
            expressions of one video (a multi-turn conversation over the same frames,
            :mod:`mmreviosa.datasets.packing`); every expression is in exactly one item,
            so an epoch still visits each once. 1 (default): one expression per item.
        packing_seed (int): seed of the shuffle that groups each video's expressions.
        test_mode, serialize_data, lazy_init, indices, metainfo, max_refetch:
            as in :class:`mmengine.dataset.BaseDataset`.
    """

    METAINFO = dict(task='InterRVOS', roles=('actor', 'target'))

    def __init__(self,
                 data_root: str,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 layout: str = 'interrvos',
                 ann_file: Optional[str] = None,
                 mask_file: Optional[str] = None,
                 frame_ext: str = '.jpg',
                 skip_invalid: bool = False,
                 max_expressions: Optional[int] = None,
                 expressions_per_item: int = 1,
                 packing_seed: int = 0,
                 test_mode: bool = False,
                 serialize_data: bool = True,
                 lazy_init: bool = False,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 metainfo: Optional[dict] = None,
                 max_refetch: int = 1000):
        self.layout = layout
        self._layout = get_layout(layout)
        self.mask_path = osp.join(data_root, mask_file or self._layout.mask_file)
        self.frame_root = osp.join(data_root, FRAME_FOLDER)
        self.frame_ext = frame_ext
        self.skip_invalid = skip_invalid
        if max_expressions is not None and max_expressions < 1:
            raise ValueError(f'max_expressions must be >= 1 or None, got {max_expressions}')
        self.max_expressions = max_expressions
        if expressions_per_item < 1:
            raise ValueError(f'expressions_per_item must be >= 1, got {expressions_per_item}')
        if expressions_per_item > 1 and test_mode:
            raise ValueError('expressions_per_item > 1 packs training items; every test item '
                             'is one expression (set it to 1 with test_mode=True)')
        self.expressions_per_item = expressions_per_item
        self.packing_seed = packing_seed
        self.skipped: List[tuple] = []
        self.mask_format: Optional[str] = None
        self._video_store: Optional[PickledStore] = None
        self._mask_store: Optional[PickledStore] = None
        self._anno_errors: Dict[tuple, Optional[str]] = {}
        # Unscoped transform types resolve in mmreviosa even when the caller's default
        # scope is another package's (e.g. a config with default_scope='mmengine').
        current = DefaultScope.get_current_instance()
        scope = None if current is not None and current.scope_name == 'mmreviosa' else 'mmreviosa'
        with DefaultScope.overwrite_default_scope(scope):
            super().__init__(
                ann_file=resolve_ann_file(layout, data_root, ann_file, test_mode),
                metainfo=metainfo, data_root=data_root, data_prefix=dict(),
                indices=indices, serialize_data=serialize_data, pipeline=list(pipeline),
                test_mode=test_mode, lazy_init=lazy_init, max_refetch=max_refetch)

    # ------------------------------------------------------------------ loading
    def load_data_list(self) -> List[dict]:
        """Read the expression file once and validate every item (see class doc)."""
        videos = read_meta_expressions(self.ann_file,
                                       f'expression file of layout {self.layout!r}')
        mask_dict = self._open_mask_source()
        self.skipped = []
        data_list, video_infos, num_seen = [], {}, 0
        for video_id in sorted(videos):
            entry = videos[video_id]
            where_video = f'{self.ann_file}: video {video_id}'
            try:
                exps = video_expressions(entry, where_video)
            except InvalidAnnotationError as err:
                num_seen += 1
                self._reject(video_id, '*', err)
                continue
            exp_ids = expression_ids(exps)
            num_seen += len(exp_ids)
            # Errors of the video concern all its expressions: name them.
            shown = ','.join(exp_ids[:5]) + (',...' if len(exp_ids) > 5 else '')
            try:
                video = self._read_video(video_id, entry, f'{where_video} expression {shown}')
            except InvalidAnnotationError as err:
                for exp_id in exp_ids:
                    self._reject(video_id, exp_id, err)
                continue
            for exp_id in exp_ids:
                where = f'{where_video} expression {exp_id}'
                try:
                    item = parse_expression(self.layout, exps[exp_id], where)
                    self._check_item(item, exp_id, exps, video, mask_dict, where)
                except InvalidAnnotationError as err:
                    self._reject(video_id, exp_id, err)
                    continue
                item.update(video_id=video_id, exp_id=exp_id,
                            num_video_frames=len(video['frame_names']),
                            ori_shape=video['ori_shape'],
                            has_interaction=bool(item['target_anno_id']),
                            mask_format=self.mask_format)
                data_list.append(item)
                video_infos[video_id] = video
            if self.max_expressions is not None and len(data_list) >= self.max_expressions:
                data_list = data_list[:self.max_expressions]
                break
        if self.skipped:
            print_log(f'{type(self).__name__}: skipped {len(self.skipped)} of {num_seen} '
                      f'expressions as invalid in {self.ann_file}', logger='current',
                      level=logging.WARNING)
        self._build_stores(data_list, video_infos, mask_dict)
        if self.expressions_per_item > 1:
            data_list = group_expressions(data_list, self.expressions_per_item,
                                          self.packing_seed)
        return data_list

    def _reject(self, video_id: str, exp_id: str, err: InvalidAnnotationError) -> None:
        if not self.skip_invalid:
            raise err
        self.skipped.append((video_id, exp_id, str(err)))
        print_log(f'Skipped video {video_id} expression {exp_id}: {err}', logger='current',
                  level=logging.WARNING)

    def _open_mask_source(self) -> Optional[dict]:
        """Set ``self.mask_format`` and return the mask_dict (rle) or None."""
        exists = osp.isfile(self.mask_path) if self._layout.mask_format == 'rle' \
            else osp.isdir(self.mask_path)
        if not exists:
            if not self.test_mode:
                raise FileNotFoundError(
                    f'Masks of {self.data_root} not found at {self.mask_path}; training needs '
                    f'them (test_mode=True loads a split without masks)')
            print_log(f'No masks at {self.mask_path}: items have no ground truth',
                      logger='current', level=logging.INFO)
            self.mask_format = None
            return None
        self.mask_format = self._layout.mask_format
        if self.mask_format == 'palette':
            return None
        self._anno_errors = {}
        return read_mask_dict(self.mask_path)

    def _find_video_file(self, video_id: str) -> Optional[str]:
        for folder in VIDEO_FOLDERS:
            for ext in VIDEO_EXTENSIONS:
                path = osp.join(self.data_root, folder, video_id + ext)
                if osp.isfile(path):
                    return path
        return None

    def _read_video(self, video_id: str, entry: dict, where: str) -> dict:
        """Frame names, frame source and frame size of one video."""
        frames = entry.get('frames')
        if frames is not None:
            frames = check_frame_names(frames, where)
        frame_dir = osp.join(self.frame_root, video_id)
        video_path = None
        if osp.isdir(frame_dir):
            present = set(os.listdir(frame_dir))
            if frames is None:
                frames = list_frame_names(frame_dir, self.frame_ext)
            if not frames:
                raise InvalidAnnotationError(f'{where}: the video has 0 frames ({frame_dir})')
            missing = [f for f in frames if f + self.frame_ext not in present]
            if missing:
                raise InvalidAnnotationError(
                    f'{where}: {len(missing)} of {len(frames)} listed frames are not in '
                    f'{frame_dir}, e.g. {missing[:3]} (frame list does not match the folder)')
            ori_shape = _image_size(osp.join(frame_dir, frames[0] + self.frame_ext), where)
        else:
            frame_dir = None
            video_path = self._find_video_file(video_id)
            if video_path is None:
                raise InvalidAnnotationError(
                    f'{where}: no frames: neither folder {osp.join(self.frame_root, video_id)} '
                    f'nor a video file {video_id}.<{"|".join(e[1:] for e in VIDEO_EXTENSIONS)}> '
                    f'in {list(VIDEO_FOLDERS)}')
            try:
                num_frames = count_video_frames(video_path)
                ori_shape = video_frame_size(video_path)
            except OSError as err:
                raise InvalidAnnotationError(f'{where}: {err}') from err
            if frames is None:
                frames = frame_names_for_length(num_frames)
            if num_frames == 0 or not frames:
                raise InvalidAnnotationError(f'{where}: the video has 0 frames ({video_path})')
            if len(frames) != num_frames:
                raise InvalidAnnotationError(
                    f'{where}: the meta file lists {len(frames)} frames but {video_path} '
                    f'has {num_frames}')
        video = dict(frame_names=list(frames), frame_dir=frame_dir, video_path=video_path,
                     ori_shape=tuple(ori_shape), mask_dir=None)
        if self.mask_format == 'palette':
            video['mask_dir'] = self._check_palette_dir(video_id, video, where)
        return video

    def _check_palette_dir(self, video_id: str, video: dict, where: str) -> str:
        mask_dir = osp.join(self.mask_path, video_id)
        present = set(os.listdir(mask_dir)) if osp.isdir(mask_dir) else set()
        missing = [f for f in video['frame_names'] if f + '.png' not in present]
        if missing:
            raise InvalidAnnotationError(
                f'{where}: {len(missing)} frames have no mask PNG in {mask_dir}, '
                f'e.g. {missing[:3]}')
        shape = _image_size(osp.join(mask_dir, video['frame_names'][0] + '.png'), where)
        if shape != video['ori_shape']:
            raise InvalidAnnotationError(
                f'{where}: mask PNG size {shape} differs from the frame size {video["ori_shape"]}')
        return mask_dir

    def _check_item(self, item: dict, exp_id: str, exps: dict, video: dict,
                    mask_dict: Optional[dict], where: str) -> None:
        check_pair(item['pair_exp_id'], exp_id, exps, where)
        if self.mask_format == 'palette':
            if not item['obj_id'] or not all(0 < i < 256 for i in item['obj_id']):
                raise InvalidAnnotationError(
                    f'{where}: expected obj_id palette indices in 1..255, got {item["obj_id"]}')
        elif self.mask_format == 'rle':
            check_expression_masks(item, video['frame_names'], video['ori_shape'], mask_dict,
                                   self.mask_path, where, self._anno_errors)

    def _build_stores(self, data_list: List[dict], video_infos: Dict[str, dict],
                      mask_dict: Optional[dict]) -> None:
        used = {v: video_infos[v] for v in {item['video_id'] for item in data_list}}
        self._video_store = PickledStore(used)
        annos = {}
        if mask_dict is not None:
            for item in data_list:
                for anno_id in item['anno_id'] + item['target_anno_id']:
                    annos[anno_id] = mask_dict[anno_id]
        self._mask_store = PickledStore(annos)
        self._anno_errors = {}

    # ------------------------------------------------------------------ access
    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        """The idx-th item with its frame paths and mask source attached."""
        info = super().get_data_info(idx)
        video = self._video_store[info['video_id']]
        names = video['frame_names']
        info['frame_names'] = names
        info['video_path'] = video['video_path']
        info['ann_file'] = self.ann_file
        info['frame_paths'] = None if video['frame_dir'] is None else [
            osp.join(video['frame_dir'], n + self.frame_ext) for n in names]
        if info['mask_format'] == 'rle':
            for expression in expressions_of(info):
                expression['actor_rles'] = [self._mask_store[a] for a in expression['anno_id']]
                expression['target_rles'] = [self._mask_store[a]
                                             for a in expression['target_anno_id']]
        elif info['mask_format'] == 'palette':
            info['mask_paths'] = [osp.join(video['mask_dir'], n + '.png') for n in names]
        return info

    def prepare_data(self, idx: int) -> Optional[dict]:
        """The idx-th item through the pipeline; None (draw another) for an invalid
        training item under ``skip_invalid``."""
        try:
            return super().prepare_data(idx)
        except InvalidAnnotationError as err:
            if not self.skip_invalid or self.test_mode:
                raise
            item = self.get_raw_item(idx)
            print_log(f'Skipped video {item["video_id"]} expression {item["exp_id"]}: {err}; '
                      f'drawing another item', logger='current', level=logging.WARNING)
            return None

    def expression_index(self) -> Dict[tuple, int]:
        """``{(video_id, exp_id): index}`` of every expression (e.g. to look up pairs): the
        index of the item that holds it (with packing, several expressions share one)."""
        index = {}
        for idx in range(len(self)):
            item = self.get_raw_item(idx)
            for expression in expressions_of(item):
                index[(item['video_id'], expression['exp_id'])] = idx
        return index

    def get_raw_item(self, idx: int) -> dict:
        """The stored fields of item ``idx`` (ids only; no paths or masks)."""
        return BaseDataset.get_data_info(self, idx)
