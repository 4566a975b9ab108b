"""Tests of tools/analysis_tools/ambiguity_analysis.py and of ``appearance_ambiguous``.

The hand-built split: one video of 2 frames (20 x 20) with

- A (obj 1): a big red square, 6 x 6 px;
- B (obj 2): a blue circle, 2 x 2 px;
- C (obj 3): a small red square, 4 x 4 px: A's look-alike (size is ignored);
- D (obj 4): a green star, 3 x 3 px.

and the expressions (ambiguous by appearance: a)

    e0 "the red square pushing the blue circle": actor A (a), target B
    e1 "the blue circle being pushed by the red square": actor B, target A (a)
    e2 "the green star": D
    e3 "the red square moving right": A (a)
    e4 "the red square": A and C, both referents, so no look-alike is left out

so actor: ambiguous {e0}, unambiguous {e1}; target: ambiguous {e1},
unambiguous {e0}; rvos: ambiguous {e3}, unambiguous {e2, e4}.
"""
import json

import numpy as np
import pytest

from mmreviosa.builders.intershapes import appearance_ambiguous
from mmreviosa.evaluation.functional.prediction_io import (prediction_json_entry,
                                                           write_prediction_json)
from mmreviosa.fileio import (decode_masks, encode_masks, encode_rle, read_split,
                              write_annotations)
from mmreviosa.testing import load_tool

ambiguity_analysis = load_tool('tools/analysis_tools/ambiguity_analysis.py')
baselines = load_tool('tools/analysis_tools/baselines.py')
eval_predictions = load_tool('tools/analysis_tools/eval_predictions.py')

FRAMES = ['00000', '00001']
SIZE = 20
# obj id -> (colour, shape, size, anno id, box top, left, side)
SHAPES = {1: ('red', 'square', 'big', 10, 1, 1, 6),
          2: ('blue', 'circle', 'small', 11, 16, 16, 2),
          3: ('red', 'square', 'small', 12, 12, 1, 4),
          4: ('green', 'star', 'small', 13, 1, 14, 3)}
# exp id -> (text, actor obj ids, target obj ids, pair)
EXPRESSIONS = {'e0': ('the red square pushing the blue circle', [1], [2], 'e1'),
               'e1': ('the blue circle being pushed by the red square', [2], [1], 'e0'),
               'e2': ('the green star', [4], [], None),
               'e3': ('the red square moving right', [1], [], None),
               'e4': ('the red square', [1, 3], [], None)}
AMBIGUOUS = {('v', 'e0'): {'actor': True, 'target': False},
             ('v', 'e1'): {'actor': False, 'target': True},
             ('v', 'e2'): {'rvos': False},
             ('v', 'e3'): {'rvos': True},
             ('v', 'e4'): {'rvos': False}}


def _object_masks(obj_id):
    """(T, H, W) bool masks of one shape (it does not move)."""
    top, left, side = SHAPES[obj_id][4:]
    mask = np.zeros((len(FRAMES), SIZE, SIZE), bool)
    mask[:, top:top + side, left:left + side] = True
    return mask


def _union(obj_ids):
    return np.logical_or.reduce([_object_masks(i) for i in obj_ids])


def _write_split(root, exp_ids=tuple(EXPRESSIONS)):
    objects = {str(i): dict(color=c, shape=s, size=z, anno_id=a, motion=None)
               for i, (c, s, z, a, *_) in SHAPES.items()}
    anno = {i: SHAPES[i][3] for i in SHAPES}
    exps = {exp_id: dict(exp=text, obj_id=actor, anno_id=[anno[i] for i in actor],
                         target_obj_id=target, target_anno_id=[anno[i] for i in target],
                         pair_exp_id=pair)
            for exp_id, (text, actor, target, pair) in EXPRESSIONS.items() if exp_id in exp_ids}
    masks = {str(SHAPES[i][3]): [encode_rle(m) for m in _object_masks(i)] for i in SHAPES}
    write_annotations(str(root), {'v': dict(frames=FRAMES, objects=objects, expressions=exps)},
                      masks)
    return str(root)


@pytest.fixture(scope='module')
def split_root(tmp_path_factory):
    return _write_split(tmp_path_factory.mktemp('ambiguity') / 'split')


def _write_predictions(path, exp_ids=tuple(EXPRESSIONS)):
    """Exact masks for every unambiguous role, empty ones for every ambiguous role."""
    entries = {}
    for exp_id in exp_ids:
        _, actor, target, _ = EXPRESSIONS[exp_id]
        roles = AMBIGUOUS['v', exp_id]
        actor_ambiguous = roles.get('actor', roles.get('rvos'))
        actor_masks = np.zeros_like(_union(actor)) if actor_ambiguous else _union(actor)
        target_rles = None
        if target:
            target_masks = np.zeros_like(_union(target)) if roles['target'] else _union(target)
            target_rles = encode_masks(target_masks)
        entries[exp_id] = prediction_json_entry(FRAMES, encode_masks(actor_masks), target_rles)
    write_prediction_json(str(path), {'v': entries})
    return str(path)


def test_appearance_ambiguous_ignores_size_and_co_referents():
    objects = {str(i): dict(color=c, shape=s, size=z) for i, (c, s, z, *_) in SHAPES.items()}
    assert appearance_ambiguous(objects, [1])           # C: same colour and shape, smaller
    assert appearance_ambiguous(objects, [3])
    assert not appearance_ambiguous(objects, [1, 3])    # both look-alikes are referents
    assert not appearance_ambiguous(objects, [2])
    assert not appearance_ambiguous(objects, [2, 4])
    objects['5'] = dict(color='blue', shape='square', size='small')  # same colour, other shape
    assert not appearance_ambiguous(objects, [2])
    with pytest.raises(KeyError, match=r'got \[7\]'):
        appearance_ambiguous(objects, [7])
    with pytest.raises(KeyError):
        appearance_ambiguous(objects, [])


def test_expression_ambiguity_of_the_hand_built_split(split_root):
    assert ambiguity_analysis.expression_ambiguity(read_split(split_root)) == AMBIGUOUS


def test_exact_on_unambiguous_and_empty_on_ambiguous_scores_100_and_0(split_root, tmp_path):
    predictions = _write_predictions(tmp_path / 'predictions.json')
    results = ambiguity_analysis.analyse(split_root, [('model', predictions)], [])
    sizes = {'actor': (1, 1), 'target': (1, 1), 'rvos': (1, 2)}
    for group, (n_ambiguous, n_unambiguous) in sizes.items():
        cells = results['model'][group]
        assert cells['ambiguous'] == dict(J=0, F=0, JF=0, n=n_ambiguous), group
        assert cells['unambiguous'] == dict(J=100, F=100, JF=100, n=n_unambiguous), group
        assert cells['all']['n'] == n_ambiguous + n_unambiguous
        assert cells['all']['J'] == pytest.approx(100 * n_unambiguous / cells['all']['n'])


def test_appearance_oracle_on_the_hand_built_split(split_root):
    results = ambiguity_analysis.analyse(split_root, baseline_names=['appearance_oracle'])
    oracle = results['appearance_oracle']
    # The words name every unambiguous referent exactly ...
    for group in ('actor', 'target', 'rvos'):
        assert oracle[group]['unambiguous']['J'] == 100, group
    # ... and "red square" also takes in C for the ambiguous ones: J = 36 / (36 + 16).
    for group in ('actor', 'target', 'rvos'):
        assert oracle[group]['ambiguous']['J'] == pytest.approx(100 * 36 / 52), group


def test_subsets_add_up_to_the_whole_group_scores(split_root, tmp_path):
    predictions = _write_predictions(tmp_path / 'predictions.json')
    results = ambiguity_analysis.analyse(split_root, [('model', predictions)])
    whole = baselines.compute_baselines(split_root)
    whole['model'] = eval_predictions.evaluate_predictions(predictions, split_root,
                                                           progress=False)
    assert set(results) == set(whole)
    for name, row in results.items():
        for group, cells in row.items():
            ambiguous, unambiguous = cells['ambiguous'], cells['unambiguous']
            n = ambiguous['n'] + unambiguous['n']
            assert n == cells['all']['n'] == (2 if group != 'rvos' else 3)
            for measure in ('J', 'F', 'JF'):
                weighted = (ambiguous[measure] * ambiguous['n']
                            + unambiguous[measure] * unambiguous['n']) / n
                assert weighted == pytest.approx(whole[name][f'{group}_{measure}']), \
                    (name, group, measure)
                assert cells['all'][measure] == pytest.approx(weighted)


def test_empty_subsets_are_null_in_the_json(tmp_path):
    split_dir = _write_split(tmp_path / 'split', ('e2', 'e4'))  # unambiguous, no interaction
    out = tmp_path / 'ambiguity.json'
    assert ambiguity_analysis.main(['--data-root', split_dir, '--baselines', 'union',
                                    '--out', str(out)]) == 0
    results = json.loads(out.read_text())['union']
    assert results['actor']['all'] == dict(J=None, F=None, JF=None, n=0)
    assert results['rvos']['ambiguous'] == dict(J=None, F=None, JF=None, n=0)
    assert results['rvos']['unambiguous']['n'] == 2


def test_a_missing_prediction_is_an_error_naming_it(split_root, tmp_path, capsys):
    predictions = _write_predictions(tmp_path / 'predictions.json', ('e0', 'e1', 'e2', 'e3'))
    with pytest.raises(ValueError, match='predictions.json: no prediction for 1 of 5 '
                                         'expressions of the split: video v expression e4'):
        ambiguity_analysis.analyse(split_root, [('model', predictions)], [])
    assert ambiguity_analysis.main(['--data-root', split_root, '--pred', predictions]) == 2
    assert 'video v expression e4' in capsys.readouterr().err


def test_a_video_without_objects_is_an_error_naming_it(split_root, tmp_path):
    split = read_split(split_root)
    del split.videos['v']['objects']
    with pytest.raises(KeyError, match='video v has no "objects"'):
        ambiguity_analysis.expression_ambiguity(split)


def test_cli_on_a_generated_split(tmp_path, capsys):
    from mmreviosa.builders.intershapes import generate_split
    generate_split(str(tmp_path), 'test', 12, seed=3, progress=False)
    split_dir = str(tmp_path / 'test')
    predictions = _exact_predictions(split_dir, tmp_path / 'predictions.json')
    out = str(tmp_path / 'ambiguity.json')
    assert ambiguity_analysis.main(['--data-root', split_dir, '--pred', predictions,
                                    '--pred-name', 'exact', '--out', out]) == 0
    assert 'appearance_oracle' in capsys.readouterr().out
    with open(out) as file:
        results = json.load(file)
    assert set(results) == set(baselines.BASELINES) | {'exact'}
    whole = baselines.compute_baselines(split_dir)
    for group in ('actor', 'target', 'rvos'):
        cells = results['exact'][group]
        assert cells['ambiguous']['n'] > 0 and cells['unambiguous']['n'] > 0, group
        assert cells['ambiguous']['JF'] == cells['unambiguous']['JF'] == 100
        for name in baselines.BASELINES:
            assert results[name][group]['all']['JF'] == pytest.approx(
                whole[name][f'{group}_JF']), (name, group)
    # Interaction expressions name the actor and the target by colour and shape (size
    # optional) or by a shape no other object has, so without a look-alike the words name
    # exactly the referent. Non-interaction ones may leave out the colour ("the square moving
    # left"), so another colour's square fits the words too: no such guarantee for RVOS.
    oracle = results['appearance_oracle']
    assert oracle['actor']['unambiguous']['J'] == oracle['target']['unambiguous']['J'] == 100
    assert oracle['actor']['ambiguous']['J'] < 100 and oracle['target']['ambiguous']['J'] < 100


def _exact_predictions(split_root, path):
    """The ground truth of a split as a prediction file."""
    split = read_split(split_root)
    entries = {}
    for exp in split.expressions:
        def masks(anno_ids):
            shape = tuple(next(r for a in anno_ids for r in split.mask_dict[a] if r)['size'])
            return encode_masks(np.logical_or.reduce(
                [decode_masks(split.mask_dict[a], shape, exp['frame_names']) for a in anno_ids]))

        target = masks(exp['target_anno_id']) if exp['target_anno_id'] else None
        entries.setdefault(exp['video_id'], {})[exp['exp_id']] = prediction_json_entry(
            exp['frame_names'], masks(exp['anno_id']), target)
    write_prediction_json(str(path), entries)
    return str(path)


def test_prediction_names(split_root):
    args = ambiguity_analysis.parse_args(['--data-root', split_root, '--pred', 'a.json'])
    assert args.predictions == [('a.json', 'a.json')]
    assert args.baseline_names == list(baselines.BASELINES)
    for clash in (['--pred-name', 'union'], ['--pred-name', 'x', 'y']):
        with pytest.raises(SystemExit):
            ambiguity_analysis.parse_args(['--data-root', split_root, '--pred', 'a.json', *clash])
