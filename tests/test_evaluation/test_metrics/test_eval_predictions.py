"""tools/analysis_tools/eval_predictions.py on a tiny hand-made split.

The split is the video of ``test_interrvos_metric.py`` (objects A, B, C in 2
frames of 6x8) with one more expression, ``e3``, that has no prediction:

- ``e0`` A->B and ``e1`` B->A (a pair): as in the metric test.
- ``e2`` "C" (no interaction): predicted exactly, without a target.
- ``e3`` "C again" (no interaction): no prediction -> J = F = 0 and a wrong
  interaction prediction.

So: actor 100, target 50, rvos (1 + 0) / 2 = 50, interaction_acc 2/4 = 50,
role swap 50 (e0: 0, e1: 1).
"""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from interrvos_samples import EMPTY, FRAMES, A, B, C, sample

from mmreviosa.evaluation.metrics.interrvos_metric import InterRVOSMetric
from mmreviosa.fileio import encode_masks
from mmreviosa.testing import load_tool

# registered so that worker processes can unpickle its functions
eval_predictions = load_tool('tools/analysis_tools/eval_predictions.py', register=True)

# J and F agree here: each prediction is either exact or misses the ground truth entirely.
EXPECTED = {f'{group}_{measure}': value
            for group, value in (('actor', 100.0), ('target', 50.0), ('rvos', 50.0))
            for measure in 'JF'}
EXPECTED.update(interaction_acc=50.0, role_swap_consistency=50.0)


def write_split(root, mevis=False):
    """meta_expressions.json and mask_dict.json of the hand-made video."""
    def expression(text, anno, target=(), pair=None):
        exp = {'exp': text, 'obj_id': list(anno), 'anno_id': list(anno)}
        if not mevis:
            exp.update(target_obj_id=list(target),
                       target_anno_id=list(target), pair_exp_id=pair)
        return exp

    expressions = {
        'e2': expression('the C', [3]),
        'e3': expression('the C again', [3])
    }
    if not mevis:
        expressions.update(
            e0=expression('A pushing B', [1], [2], 'e1'),
            e1=expression('B pushed by A', [2], [1], 'e0'))
    meta = {'videos': {'vid': {'frames': FRAMES,
                               'expressions': expressions}}}
    mask_dict = {
        str(anno): encode_masks(masks.numpy())
        for anno, masks in ((1, A), (2, B), (3, C))
    }
    os.makedirs(root, exist_ok=True)
    with open(osp.join(root, 'meta_expressions.json'), 'w') as file:
        json.dump(meta, file)
    with open(osp.join(root, 'mask_dict.json'), 'w') as file:
        json.dump(mask_dict, file)


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """Split folder and the metric's export of e0, e1, e2."""
    root = tmp_path_factory.mktemp('eval')
    split = str(root / 'split')
    write_split(split)
    out = str(root / 'export')
    metric = InterRVOSMetric(output_dir=out)
    metric.process({}, [
        sample('e0', A, B, A, B, pair='e1'),
        sample('e1', B, A, B, None, pair='e0'),
        sample('e2', C, EMPTY, C, None, has_interaction=False),
    ])
    metric.evaluate(3)
    return split, out


@pytest.mark.parametrize('source', ['pngs', 'json'])
def test_scores_exported_predictions_with_a_missing_expression(
        exported, source):
    split, out = exported
    predictions = out if source == 'pngs' else osp.join(
        out, 'predictions.json')
    metrics = eval_predictions.evaluate_predictions(
        predictions, split, progress=False)
    for key, value in EXPECTED.items():
        assert metrics[key] == pytest.approx(value), key


def test_workers_and_json_output(exported, tmp_path):
    split, out = exported
    target = str(tmp_path / 'metrics.json')
    assert eval_predictions.main(
        [out, split, '--workers', '2', '--out', target]) == 0
    with open(target) as file:
        written = json.load(file)
    assert len(written) == 11
    for key, value in EXPECTED.items():
        assert written[f'interrvos/{key}'] == pytest.approx(value), key


def test_mevis_split_and_png_layout(tmp_path):
    split = str(tmp_path / 'mevis')
    write_split(split, mevis=True)
    folder = tmp_path / 'pred' / 'Annotations' / 'vid' / 'e2'
    folder.mkdir(parents=True)
    for name, mask in zip(FRAMES, C.numpy()):
        cv2.imwrite(str(folder / f'{name}.png'), mask.astype(np.uint8) * 255)
    metrics = eval_predictions.evaluate_predictions(
        str(tmp_path / 'pred'), split, progress=False)
    # e2 exact, e3 missing; no interaction expression, no pair
    assert metrics['rvos_J'] == pytest.approx(50.0)
    assert metrics['interaction_acc'] == pytest.approx(50.0)
    assert np.isnan(metrics['actor_J']) and np.isnan(metrics['target_F'])
    assert np.isnan(metrics['role_swap_consistency'])


def test_prediction_of_another_size_is_a_clear_error(exported, tmp_path):
    split, _ = exported
    folder = tmp_path / 'bad' / 'Annotations' / 'vid' / 'e2' / 'actor'
    folder.mkdir(parents=True)
    for name in FRAMES:
        cv2.imwrite(str(folder / f'{name}.png'), np.zeros((6, 9), np.uint8))
    with pytest.raises(ValueError, match=r"'vid'.*'e2'.*\(6, 9\).*\(6, 8\)"):
        eval_predictions.evaluate_predictions(
            str(tmp_path / 'bad'), split, progress=False)


def test_missing_frame_is_a_clear_error(exported, tmp_path):
    split, _ = exported
    folder = tmp_path / 'short' / 'Annotations' / 'vid' / 'e2' / 'actor'
    folder.mkdir(parents=True)
    cv2.imwrite(str(folder / f'{FRAMES[0]}.png'), np.zeros((6, 8), np.uint8))
    with pytest.raises(ValueError, match=r"'vid'.*'e2'.*00005"):
        eval_predictions.evaluate_predictions(
            str(tmp_path / 'short'), split, progress=False)


# ----------------------------------------------------------------- bad input
def _edit(path, change):
    with open(path) as file:
        content = json.load(file)
    change(content)
    with open(path, 'w') as file:
        json.dump(content, file)


def _split_copy(exported, tmp_path):
    import shutil
    split, out = exported
    copy = str(tmp_path / 'split')
    shutil.copytree(split, copy)
    return copy, out


@pytest.mark.parametrize('name', ['meta_expressions.json', 'mask_dict.json', 'predictions'])
def test_malformed_json_is_an_error_naming_the_file(exported, tmp_path, name):
    split, out = _split_copy(exported, tmp_path)
    predictions = osp.join(out, 'predictions.json')
    if name == 'predictions':
        path = predictions = str(tmp_path / 'predictions.json')
    else:
        path = osp.join(split, name)
    with open(path, 'w') as file:
        file.write('{"videos": {')
    with pytest.raises(ValueError, match=f'{path} is not valid JSON'):
        eval_predictions.evaluate_predictions(predictions, split, progress=False)


def test_missing_anno_id_is_an_error_naming_the_files_video_and_expression(exported, tmp_path):
    split, out = _split_copy(exported, tmp_path)
    _edit(osp.join(split, 'mask_dict.json'), lambda d: d.pop('2'))
    # found before any expression is scored
    with pytest.raises(ValueError, match=r"meta_expressions.json: video vid expression e0: anno "
                                         r"id 2 is missing from .*mask_dict.json"):
        eval_predictions.evaluate_predictions(out, split, progress=False)


SHORT_RLE = {'size': [6, 8], 'counts': '522'}  # runs of 9 of the 48 pixels


@pytest.mark.parametrize('where,rle,match', [
    ('ground truth', SHORT_RLE,
     r'mask_dict.json: video vid expression e2: anno id 3 frame 00005: .*runs cover 9'),
    ('ground truth', dict(SHORT_RLE, size=[6, 9]),  # found before scoring, without decoding
     r'meta_expressions.json: video vid expression e2: anno id 3 frame 00005: RLE size '
     r'\[6, 9\] differs from the frame size \[6, 8\]'),
    ('prediction', SHORT_RLE,
     r"predictions.json: video 'vid' expression 'e2' actor: frame 00005: .*runs cover 9"),
])
def test_rle_that_does_not_fit_its_frame_is_an_error(exported, tmp_path, where, rle, match):
    split, out = _split_copy(exported, tmp_path)
    if where == 'ground truth':
        _edit(osp.join(split, 'mask_dict.json'), lambda d: d['3'].__setitem__(1, rle))
        predictions = out
    else:
        predictions = str(tmp_path / 'predictions.json')
        with open(osp.join(out, 'predictions.json')) as file:
            content = json.load(file)
        content['videos']['vid']['e2']['actor'][1] = rle
        with open(predictions, 'w') as file:
            json.dump(content, file)
    with pytest.raises(ValueError, match=match):
        eval_predictions.evaluate_predictions(predictions, split, progress=False)


def test_video_without_frames_is_an_error_as_in_the_dataset(exported, tmp_path):
    """The dataset rejects a 0-frame video (skip_invalid=True skips it): here it is an error,
    not a group that silently becomes n/a."""
    split, out = _split_copy(exported, tmp_path)
    _edit(osp.join(split, 'meta_expressions.json'),
          lambda d: d['videos']['vid'].update(frames=[]))
    with pytest.raises(ValueError, match=r'meta_expressions.json: video vid: the video has 0 '
                                         r'frames'):
        eval_predictions.evaluate_predictions(out, split, progress=False)


def test_command_line_prints_one_line_error_and_fails(exported, tmp_path, capsys):
    split, out = _split_copy(exported, tmp_path)
    _edit(osp.join(split, 'mask_dict.json'), lambda d: d.pop('2'))
    assert eval_predictions.main([out, split]) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and 'anno id 2 is missing' in err


def test_empty_expression_is_an_error_as_in_the_dataset(exported, tmp_path):
    split, out = _split_copy(exported, tmp_path)
    _edit(osp.join(split, 'meta_expressions.json'),
          lambda d: d['videos']['vid']['expressions']['e3'].update(exp='  '))
    with pytest.raises(ValueError, match=r'meta_expressions.json: video vid expression e3: the '
                                         r'expression \("exp"\) must be a non-empty string'):
        eval_predictions.evaluate_predictions(out, split, progress=False)
