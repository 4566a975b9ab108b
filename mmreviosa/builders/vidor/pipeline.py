"""VidOR -> InterRVOS conversion: runs the stages per video, then writes the dataset.

Output (the InterRVOS data format; ``out`` is a split folder)::

    OUT/JPEGImages/<video_id>/<frame_id:05d>.jpg   sampled frames
    OUT/meta_expressions.json                      obj_id / target_obj_id: VidOR tids
    OUT/mask_dict.json                             {anno_id: [RLE or null per frame]}
    OUT/conversion_stats.json                      statistics (also printed)
    OUT/_work/<video_id>/stage{1,2,3,4}.json       resumable intermediate results
    OUT/_work/llm_cache/                           cached language-model replies
"""
import json
import logging
import os
import os.path as osp
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from typing import Dict, Optional, Sequence

from mmreviosa.builders.vidor.backends import build_backend
from mmreviosa.builders.vidor.masks import BoxMaskTracker, SAM2MaskTracker
from mmreviosa.builders.vidor.reader import (VideoReadError, VidORFormatError,
                                             list_annotation_files, load_vidor_video)
from mmreviosa.builders.vidor.stages import (StageStore, run_expressions_stage,
                                             run_interactions_stage, run_masks_stage,
                                             run_objects_stage)
from mmreviosa.builders.vidor.stats import collect_stats, format_stats, write_stats
from mmreviosa.fileio import write_annotations

logger = logging.getLogger(__name__)

DEFAULT_FPS = 6.0
DEFAULT_SAM2_CONFIG = 'configs/sam2.1/sam2.1_hiera_l.yaml'


@dataclass
class ConvertOptions:
    """Settings of one conversion (the CLI flags; see tools/dataset_converters).

    Attributes:
        vidor_root: VidOR root (``annotation/`` and ``video/`` below it).
        split: 'training' or 'validation'.
        out: output split folder.
        backend: 'template', 'openai' or 'hf'.
        llm_config: settings of the chat backends (see ``llm.build_backend``).
        mask_source: 'sam2' or 'box'.
        fps: frames per second kept (every ``round(video_fps / fps)``-th frame).
        workers: videos converted in parallel (processes).
        sam2_config, sam2_checkpoint, sam2_overrides, sam2_prompt_every,
        sam2_box_margin, device: SAM2 settings (see ``masks.SAM2MaskTracker``);
            ``sam2_checkpoint=None`` is refused unless ``sam2_random_init``.
        spatial_expressions: also write target-less expressions of spatial
            relations ("the dog in front of the adult").
        video_ids: only these videos (default: all of the split).
        strict: raise on the first bad video instead of skipping it.
    """
    vidor_root: str
    split: str
    out: str
    backend: str = 'template'
    llm_config: Optional[dict] = None
    mask_source: str = 'sam2'
    fps: float = DEFAULT_FPS
    workers: int = 1
    sam2_config: str = DEFAULT_SAM2_CONFIG
    sam2_checkpoint: Optional[str] = None
    sam2_random_init: bool = False
    sam2_overrides: Sequence[str] = field(default_factory=list)
    sam2_prompt_every: int = 1
    sam2_box_margin: float = 0.1
    device: Optional[str] = None
    spatial_expressions: bool = True
    video_ids: Optional[Sequence[str]] = None
    strict: bool = False


class VideoConverter:
    """Runs (or resumes) the four stages of one video at a time.

    Holds the mask tracker and the language backend, built once per process.
    """

    def __init__(self, options: ConvertOptions):
        self.options = options
        self.tracker = self._build_tracker(options)
        self.backend = build_backend(options.backend, options.llm_config,
                                     cache_dir=osp.join(options.out, '_work', 'llm_cache'))

    @staticmethod
    def _build_tracker(options: ConvertOptions):
        if options.mask_source == 'box':
            return BoxMaskTracker()
        if options.mask_source != 'sam2':
            raise ValueError(f'Unknown mask source {options.mask_source!r}; expected sam2 or box')
        checkpoint = options.sam2_checkpoint
        if checkpoint is None and not options.sam2_random_init:
            raise ValueError('--mask-source sam2 needs --sam2-checkpoint (a local SAM2.1 '
                             'checkpoint); use --mask-source box for box masks')
        if checkpoint is not None and not osp.isfile(checkpoint):
            raise FileNotFoundError(f'SAM2 checkpoint {checkpoint} does not exist')
        device = options.device
        if device is None:
            import torch
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        return SAM2MaskTracker(options.sam2_config, checkpoint, device, options.sam2_overrides,
                               options.sam2_prompt_every, options.sam2_box_margin)

    def __call__(self, anno_path: str) -> dict:
        """Convert one video; a bad video is skipped (logged) unless ``strict``.

        Returns:
            ``{video_id, status ('ok' or 'skipped'), reason, computed, reused,
            backend}``: the stages run and reused, the backend's request counts.
        """
        options = self.options
        video_id = osp.splitext(osp.basename(anno_path))[0]
        before = dict(self.backend.counters)
        result = {'video_id': video_id, 'status': 'ok', 'reason': None,
                  'computed': [], 'reused': []}
        try:
            video = load_vidor_video(anno_path, options.vidor_root)
            video_id = result['video_id'] = video.video_id
            store = StageStore(osp.join(options.out, '_work', video_id))
            params = self._stage_params()

            def stage(number: int, compute):
                # Once a stage is recomputed, later ones are too: they read it.
                data = None if result['computed'] else store.load(number, params[number])
                if data is None:
                    data = store.save(number, params[number], compute())
                    result['computed'].append(number)
                else:
                    result['reused'].append(number)
                return data

            masks = stage(1, lambda: run_masks_stage(video, options.out, self.tracker,
                                                     options.fps))
            objects = stage(2, lambda: run_objects_stage(
                video_id, masks, options.out, self.backend,
                box_masks=options.mask_source == 'box'))
            relations = stage(3, lambda: run_interactions_stage(
                video, objects['objects'], self.backend))
            stage(4, lambda: run_expressions_stage(
                video_id, objects['objects'], objects['expressions'], relations['relations'],
                self.backend, options.spatial_expressions))
        except (VidORFormatError, VideoReadError) as err:
            if options.strict:
                raise
            logger.warning('video %s skipped: %s', video_id, err)
            result.update(status='skipped', reason=str(err))
        except Exception as err:  # an unexpected failure must not stop a long run
            if options.strict:
                raise
            logger.exception('video %s skipped after an unexpected error', video_id)
            result.update(status='skipped', reason=f'{type(err).__name__}: {err}')
        result['backend'] = {k: v - before.get(k, 0) for k, v in self.backend.counters.items()}
        return result

    def _stage_params(self) -> Dict[int, dict]:
        options = self.options
        masks = dict(self.tracker.params(), fps=options.fps)
        objects = dict(self.backend.params(), stage1=masks)
        relations = dict(self.backend.params(), stage1=masks)
        expressions = dict(objects=objects, relations=relations,
                           spatial_expressions=options.spatial_expressions)
        return {1: masks, 2: objects, 3: relations, 4: expressions}


_WORKER: Optional[VideoConverter] = None


def _init_worker(options_dict: dict) -> None:
    global _WORKER
    import torch
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.WARNING, format='%(levelname)s %(name)s: %(message)s')
    _WORKER = VideoConverter(ConvertOptions(**options_dict))


def _run_in_worker(anno_path: str) -> dict:
    return _WORKER(anno_path)


def convert(options: ConvertOptions, print_table: bool = True) -> dict:
    """Convert a VidOR split to the InterRVOS format (resumable).

    Returns:
        The statistics (also written to ``OUT/conversion_stats.json``).
    """
    files = list_annotation_files(options.vidor_root, options.split)
    if options.video_ids:
        wanted = set(options.video_ids)
        files = [f for f in files if osp.splitext(osp.basename(f))[0] in wanted]
        if not files:
            raise FileNotFoundError(f'None of the videos {sorted(wanted)} is in '
                                    f'{options.vidor_root}/annotation/{options.split}')
    os.makedirs(options.out, exist_ok=True)
    if options.workers <= 1:
        converter = VideoConverter(options)
        results = [converter(path) for path in files]
    else:
        with ProcessPoolExecutor(options.workers, mp_context=get_context('spawn'),
                                 initializer=_init_worker,
                                 initargs=(asdict(options),)) as pool:
            results = list(pool.map(_run_in_worker, files))
    converted = sorted(r['video_id'] for r in results if r['status'] == 'ok')
    stage_outputs = {vid: _read_stages(options.out, vid) for vid in converted}
    write_dataset(options.out, stage_outputs)
    stats = collect_stats(results, stage_outputs)
    write_stats(stats, osp.join(options.out, 'conversion_stats.json'))
    if print_table:
        print(format_stats(stats))
    return stats


def _read_stages(out: str, video_id: str) -> Dict[int, dict]:
    outputs = {}
    for number in (1, 2, 3, 4):
        with open(osp.join(out, '_work', video_id, f'stage{number}.json'), encoding='utf-8') as f:
            outputs[number] = json.load(f)
    return outputs


def write_dataset(out: str, stage_outputs: Dict[str, Dict[int, dict]]) -> None:
    """Write ``meta_expressions.json`` and ``mask_dict.json`` from the stage files.

    Anno ids are consecutive integers over the videos (sorted by id) and
    their tids (in order of first use); a video without expressions is left out.
    """
    videos, mask_dict = {}, {}
    for video_id in sorted(stage_outputs):
        masks, expressions = stage_outputs[video_id][1], stage_outputs[video_id][4]['expressions']
        if not expressions:
            logger.warning('video %s has no expression; left out of the dataset', video_id)
            continue
        anno_of: Dict[int, int] = {}

        def anno(tid: int) -> int:
            if tid not in anno_of:
                anno_of[tid] = len(mask_dict)
                mask_dict[str(anno_of[tid])] = masks['tracks'][str(tid)]['masks']
            return anno_of[tid]

        entries = {}
        for index, exp in enumerate(expressions):
            entries[str(index)] = {
                'exp': exp['exp'], 'obj_id': exp['obj_id'],
                'anno_id': [anno(t) for t in exp['obj_id']],
                'target_obj_id': exp['target_obj_id'],
                'target_anno_id': [anno(t) for t in exp['target_obj_id']],
                'pair_exp_id': None if exp['pair'] is None else str(exp['pair'])}
        videos[video_id] = {'frames': masks['frames'], 'expressions': entries}
    write_annotations(out, videos, mask_dict)
