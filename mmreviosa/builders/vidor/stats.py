"""Statistics of a VidOR -> InterRVOS conversion: a printed table and JSON."""
import json
from collections import Counter
from typing import Dict, List

from mmreviosa.fileio import decode_rle


def mask_coverage(tracks: Dict[str, dict]) -> Dict[str, float]:
    """How well the masks cover the boxes of one video's tracks.

    Returns:
        ``boxes`` (sampled frames with a VidOR box, over all tracks),
        ``masks`` (of those, frames with a non-empty mask), ``box_fallbacks``
        and ``mask_box_ratio_sum`` (sum of mask area / box area, for a mean).
    """
    boxes = masks = ratio_sum = fallbacks = 0
    for track in tracks.values():
        fallbacks += track.get('box_fallbacks', 0)
        for box, rle in zip(track['boxes'], track['masks']):
            if box is None:
                continue
            boxes += 1
            if rle is None:
                continue
            area = int(decode_rle(rle).sum())
            masks += area > 0
            ratio_sum += area / max(1.0, (box[2] - box[0]) * (box[3] - box[1]))
    return {'boxes': boxes, 'masks': masks, 'box_fallbacks': fallbacks,
            'mask_box_ratio_sum': ratio_sum}


def collect_stats(results: List[dict], stage_outputs: Dict[str, dict]) -> dict:
    """Aggregate per-video results and stage outputs.

    Args:
        results: one dict per video from the pipeline (``video_id``,
            ``status``, ``reason``, ``computed``, ``reused``, ``backend``).
        stage_outputs: ``{video_id: {1: stage1, 3: stage3, 4: stage4, ...}}``
            of the converted videos.
    """
    kinds, predicates = Counter(), {}
    coverage = Counter()
    issues, backend_counts, stages = [], Counter(), Counter()
    pairs = promoted = 0
    for result in results:
        stages['computed'] += len(result.get('computed', ()))
        stages['reused'] += len(result.get('reused', ()))
        backend_counts.update(result.get('backend', {}))
    for video_id, outputs in sorted(stage_outputs.items()):
        for stage in sorted(outputs):
            issues += outputs[stage].get('issues', [])
        coverage.update(mask_coverage(outputs[1]['tracks']))
        for rel in outputs[3]['relations']:
            row = predicates.setdefault(rel['predicate'], Counter())
            row['relations'] += 1
            row['interactions'] += rel['is_interaction']
            promoted += rel['is_interaction'] and rel['reason'] != 'action predicate'
        for exp in outputs[4]['expressions']:
            kinds[exp['kind']] += 1
            pairs += exp['pair'] is not None
            if 'predicate' in exp:
                predicates.setdefault(exp['predicate'], Counter())['expressions'] += 1
    total = sum(kinds.values())
    return {
        'videos': {'converted': len(stage_outputs),
                   'skipped': sum(r['status'] == 'skipped' for r in results),
                   'skipped_reasons': {r['video_id']: r['reason'] for r in results
                                       if r['status'] == 'skipped'}},
        'expressions': {'total': total, 'interaction': kinds['interaction'],
                        'spatial': kinds['spatial'], 'single': kinds['single'],
                        'pairs': pairs // 2,
                        'interaction_share': kinds['interaction'] / total if total else 0.0},
        'spatial_relations_judged_interactions': promoted,
        'predicates': {p: dict(c) for p, c in sorted(predicates.items())},
        'masks': {'boxes': coverage['boxes'], 'masks': coverage['masks'],
                  'coverage': coverage['masks'] / coverage['boxes'] if coverage['boxes'] else 0.0,
                  'box_fallbacks': coverage['box_fallbacks'],
                  'mean_mask_box_ratio': (coverage['mask_box_ratio_sum'] / coverage['masks']
                                          if coverage['masks'] else 0.0)},
        'backend': dict(backend_counts),
        'stages': dict(stages),
        'issues': issues,
    }


def format_stats(stats: dict) -> str:
    """The statistics as terminal tables (summary and predicate histogram)."""
    from terminaltables import AsciiTable
    exps, masks, videos = stats['expressions'], stats['masks'], stats['videos']
    summary = [
        ['item', 'value'],
        ['videos converted', videos['converted']],
        ['videos skipped', videos['skipped']],
        ['expressions', exps['total']],
        ['  interaction (forward + inverse)', exps['interaction']],
        ['  spatial, no target', exps['spatial']],
        ['  single object', exps['single']],
        ['interaction share', f'{100 * exps["interaction_share"]:.1f}%'],
        ['forward/inverse pairs', exps['pairs']],
        ['spatial relations judged interactions', stats['spatial_relations_judged_interactions']],
        ['mask coverage (frames with a box)', f'{100 * masks["coverage"]:.1f}% of '
                                              f'{masks["boxes"]}'],
        ['mean mask area / box area', f'{masks["mean_mask_box_ratio"]:.3f}'],
        ['box fallbacks (empty SAM2 mask)', masks['box_fallbacks']],
        ['stages computed / reused', f'{stats["stages"].get("computed", 0)} / '
                                     f'{stats["stages"].get("reused", 0)}'],
        ['issues logged', len(stats['issues'])],
    ]
    for key, value in sorted(stats['backend'].items()):
        summary.append([f'backend {key}', value])
    histogram = [['predicate', 'relations', 'interactions', 'expressions']]
    for predicate, row in stats['predicates'].items():
        histogram.append([predicate, row.get('relations', 0), row.get('interactions', 0),
                          row.get('expressions', 0)])
    return (AsciiTable(summary, 'VidOR -> InterRVOS').table + '\n'
            + AsciiTable(histogram, 'Predicates').table)


def write_stats(stats: dict, path: str) -> None:
    with open(path, 'w', encoding='utf-8') as file:
        json.dump(stats, file, indent=2)
