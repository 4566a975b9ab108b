"""InterRVOS metrics on the expressions whose referent is ambiguous by appearance, and the rest.

Example::

    python tools/test.py configs/reviosa/reviosa_tiny_intershapes.py work_dirs/demo/iter_1000.pth \\
        --work-dir work_dirs/demo/test --cfg-options test_evaluator.output_dir=work_dirs/demo/test
    python tools/analysis_tools/ambiguity_analysis.py --data-root data/intershapes/test \\
        --pred work_dirs/demo/test/predictions.json --pred-name reviosa --out ambiguity.json

A referent is *ambiguous by appearance* when another shape of the video has its
colour and shape (size ignored; see
:func:`mmreviosa.builders.intershapes.appearance_ambiguous`): its looks alone
cannot single it out, so the motion or the interaction must. An expression is
classed per group by the referent that group scores:

    actor: the actor (``obj_id``), over the expressions with an interaction;
    target: the target (``target_obj_id``), over the same expressions;
    rvos: the referent (``obj_id``, one or several shapes), over the others.

So an interaction expression can be ambiguous for the actor group and not for
the target group (InterShapes writes each interaction expression with its
role-swapped pair, so there the two groups' subsets have the same sizes).

Interaction expressions name each participant by colour and shape (size
optional) or by a shape no other object has, so the appearance oracle scores
J = 100 on the unambiguous actor and target subsets: a check of the split.
Not so for RVOS: those expressions may leave the colour out ("the square
moving left"), and a square of another colour fits the words too.

In each subset the metrics are those of the InterRVOS
metric: per expression the mean over frames of J and F, then the mean over
expressions; J&F = (J + F) / 2; percent. ``all`` is the whole group: the mean
of the two subsets weighted by their sizes ``n``, and what
``eval_predictions.py`` / ``baselines.py`` report.

Scored: every baseline of ``baselines.py`` (unless ``--no-baselines``) and
each ``--pred`` (a ``predictions.json`` written by ``InterRVOSMetric(
output_dir=...)``, or a PNG folder, read by ``eval_predictions.py``). A
prediction missing for an expression of the split is an error here, naming it
(``eval_predictions.py`` scores it 0): a subset mean with holes in it would
not be the model's.

Output: one table per group, and with ``--out`` the JSON
``{name: {group: {subset: {J, F, JF, n}}}}`` (subsets ``ambiguous``,
``unambiguous``, ``all``; null where a subset is empty).
"""
import argparse
import json
import math
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from terminaltables import AsciiTable

HERE = osp.dirname(osp.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from baselines import BASELINES, baseline_expression_scores  # noqa: E402
from eval_predictions import score_predictions  # noqa: E402

from mmreviosa.builders.intershapes import appearance_ambiguous  # noqa: E402
from mmreviosa.fileio import SplitAnnotations, read_split  # noqa: E402

GROUPS = ('actor', 'target', 'rvos')
SUBSETS = ('ambiguous', 'unambiguous', 'all')
ExpKey = Tuple[str, str]


def expression_ambiguity(split: SplitAnnotations) -> Dict[ExpKey, Dict[str, bool]]:
    """Whether each expression is ambiguous by appearance, for each group it belongs to.

    Args:
        split: an InterShapes split, as :func:`mmreviosa.fileio.read_split`
            reads it (its videos need their ``objects``).

    Returns:
        dict: ``{(video_id, exp_id): {group: bool}}`` with groups ``actor``
        and ``target`` for an expression with an interaction, ``rvos`` for
        the others.

    Raises:
        KeyError: a video without ``objects``, or an expression whose obj ids
            are not among them, naming the file, video and expression.
    """
    ambiguity = {}
    for exp in split.expressions:
        video_id, exp_id = exp['video_id'], exp['exp_id']
        objects = split.videos[video_id].get('objects')
        if not isinstance(objects, dict):
            raise KeyError(f'{split.meta_path}: video {video_id} has no "objects": the '
                           'analysis needs the per-object looks make_intershapes.py writes')
        if exp['has_interaction']:
            roles = {'actor': exp['obj_id'], 'target': exp['target_obj_id']}
        else:
            roles = {'rvos': exp['obj_id']}
        try:
            ambiguity[video_id, exp_id] = {
                group: appearance_ambiguous(objects, obj_ids) for group, obj_ids in roles.items()}
        except KeyError as err:
            raise KeyError(f'{split.meta_path}: video {video_id} expression {exp_id}: '
                           f'{err.args[0]}') from err
    return ambiguity


def subset_scores(scores: Sequence[dict], ambiguity: Dict[ExpKey, Dict[str, bool]]
                  ) -> Dict[str, Dict[str, Dict[str, float]]]:
    """InterRVOS metrics of each group on its ambiguous and unambiguous expressions.

    Args:
        scores: one score per expression (``video_id``, ``exp_id``,
            ``has_interaction``, ``actor_J``, ``actor_F``, ``target_J``,
            ``target_F``: per-frame arrays ``(T,)`` or their means).
        ambiguity: :func:`expression_ambiguity` of the split.

    Returns:
        dict: ``{group: {subset: {'J', 'F', 'JF', 'n'}}}``, J / F / JF in
        percent (nan for an empty subset).

    Raises:
        ValueError: a score of an expression not in the split, or one
            expression scored twice.
    """
    values: Dict[str, Dict[str, List[Tuple[float, float]]]] = {
        group: {subset: [] for subset in SUBSETS} for group in GROUPS}
    seen = set()
    for score in scores:
        key = (score['video_id'], score['exp_id'])
        if key not in ambiguity:
            raise ValueError(f'video {key[0]} expression {key[1]} is scored but is not in the '
                             'split')
        if key in seen:
            raise ValueError(f'video {key[0]} expression {key[1]} is scored twice')
        seen.add(key)
        for group, ambiguous in ambiguity[key].items():
            role = 'target' if group == 'target' else 'actor'
            jf = (float(np.mean(score[f'{role}_J'])), float(np.mean(score[f'{role}_F'])))
            values[group]['ambiguous' if ambiguous else 'unambiguous'].append(jf)
            values[group]['all'].append(jf)
    result = {}
    for group, subsets in values.items():
        result[group] = {}
        for subset, jfs in subsets.items():
            j, f = ((100 * float(np.mean(col)) for col in zip(*jfs)) if jfs
                    else (float('nan'), float('nan')))
            result[group][subset] = dict(J=j, F=f, JF=(j + f) / 2, n=len(jfs))
    return result


def prediction_scores(predictions: str, split: SplitAnnotations, workers: int = 1,
                      bound_th: float = 0.008) -> List[dict]:
    """Per-expression scores of exported predictions, as ``eval_predictions.py`` scores them.

    Raises:
        ValueError: an expression of the split has no prediction (naming the
            file and the first missing expressions), or malformed predictions.
    """
    scores = score_predictions(predictions, split, workers, bound_th, progress=False)
    missing = [(s['video_id'], s['exp_id']) for s in scores if s['missing']]
    if missing:
        listed = ', '.join(f'video {v} expression {e}' for v, e in missing[:5])
        raise ValueError(f'{predictions}: no prediction for {len(missing)} of {len(scores)} '
                         f'expressions of the split: {listed}{" ..." if len(missing) > 5 else ""}')
    return scores


def analyse(data_root: str, predictions: Sequence[Tuple[str, str]] = (),
            baseline_names: Optional[Sequence[str]] = None, workers: int = 1,
            bound_th: float = 0.008) -> Dict[str, Dict[str, Dict[str, Dict[str, float]]]]:
    """Subset metrics of baselines and predictions on one split.

    Args:
        data_root: an InterShapes split folder.
        predictions: ``(name, path)`` pairs, each a prediction JSON or PNG
            folder.
        baseline_names: baselines to score (None: all; empty: none).
        workers: processes scoring each prediction.
        bound_th: contour accuracy tolerance of the predictions' F (the
            baselines use the default, 0.008).

    Returns:
        dict: ``{name: {group: {subset: {J, F, JF, n}}}}``, baselines first.
    """
    split = read_split(data_root)
    ambiguity = expression_ambiguity(split)
    names = list(BASELINES) if baseline_names is None else list(baseline_names)
    results = {}
    if names:
        for name, scores in baseline_expression_scores(split, names).items():
            results[name] = subset_scores(scores, ambiguity)
    for name, path in predictions:
        results[name] = subset_scores(prediction_scores(path, split, workers, bound_th),
                                      ambiguity)
    return results


def format_tables(results: Dict[str, dict], data_root: str) -> str:
    """One AsciiTable per group: J, F, J&F of each subset, and the gap in J&F."""
    tables = [f'InterRVOS metrics on {data_root}, by ambiguity of the referent\'s looks']
    for group in GROUPS:
        sizes = next(iter(results.values()))[group]
        title = (f'{group}: ambiguous {sizes["ambiguous"]["n"]}, '
                 f'unambiguous {sizes["unambiguous"]["n"]}')
        rows = [['method', 'amb J', 'amb F', 'amb J&F', 'unamb J', 'unamb F', 'unamb J&F',
                 'all J&F', 'unamb - amb']]
        for name, row in results.items():
            cells = row[group]
            gap = cells['unambiguous']['JF'] - cells['ambiguous']['JF']
            rows.append([name, *(f'{cells[subset][measure]:.2f}'
                                 for subset in ('ambiguous', 'unambiguous')
                                 for measure in ('J', 'F', 'JF')),
                         f'{cells["all"]["JF"]:.2f}', f'{gap:+.2f}'])
        tables.append(AsciiTable(rows, title=title).table)
    return '\n'.join(tables)


def _json_ready(results: dict) -> dict:
    # nan (an empty subset) is written as null: valid JSON
    if isinstance(results, dict):
        return {key: _json_ready(value) for key, value in results.items()}
    return None if isinstance(results, float) and math.isnan(results) else results


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='InterRVOS metrics on the ambiguous-by-appearance and the other expressions')
    parser.add_argument('--data-root', required=True,
                        help='InterShapes split folder, e.g. data/intershapes/test')
    parser.add_argument('--pred', nargs='+', default=[],
                        help='predictions.json files (or PNG folders) to score')
    parser.add_argument('--pred-name', nargs='+', default=None,
                        help='a name per --pred (default: the paths)')
    parser.add_argument('--baselines', nargs='+', choices=sorted(BASELINES), default=None,
                        help='baselines to score (default: all)')
    parser.add_argument('--no-baselines', action='store_true', help='score no baseline')
    parser.add_argument('--workers', type=int, default=1,
                        help='processes scoring each prediction (default 1)')
    parser.add_argument('--bound-th', type=float, default=0.008,
                        help="contour accuracy tolerance of the predictions' F")
    parser.add_argument('--out', help='write {name: {group: {subset: {J, F, JF, n}}}} here')
    args = parser.parse_args(argv)
    names = args.pred_name if args.pred_name is not None else args.pred
    if len(names) != len(args.pred):
        parser.error(f'{len(names)} --pred-name for {len(args.pred)} --pred')
    baselines = [] if args.no_baselines else list(args.baselines or BASELINES)
    clashes = sorted({n for n in names if names.count(n) > 1} | (set(names) & set(baselines)))
    if clashes:
        parser.error(f'names used twice: {clashes}')
    if not baselines and not args.pred:
        parser.error('nothing to score: give --pred or leave out --no-baselines')
    args.predictions = list(zip(names, args.pred))
    args.baseline_names = baselines
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        results = analyse(args.data_root, args.predictions, args.baseline_names, args.workers,
                          args.bound_th)
    except (KeyError, ValueError, OSError) as err:  # bad input: the message says where
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f'error: {message}', file=sys.stderr)
        return 2
    print(format_tables(results, args.data_root))
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as file:
            json.dump(_json_ready(results), file, indent=2)
        print(f'results written to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
