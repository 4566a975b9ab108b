"""read_split: a split's annotations checked as InterRVOSDataset checks them."""
import numpy as np
import pytest

from mmreviosa.fileio import (InvalidAnnotationError, encode_masks, read_split,
                              write_annotations)

FRAMES = ['00000', '00001']


def _exp(text, anno, target=(), pair=None):
    return dict(exp=text, obj_id=list(anno), anno_id=list(anno), target_obj_id=list(target),
                target_anno_id=list(target), pair_exp_id=pair)


def _write(root, expressions):
    masks = encode_masks(np.ones((2, 3, 4), bool))
    write_annotations(str(root), {'v': dict(frames=FRAMES, expressions=expressions)},
                      {'1': masks, '2': masks})
    return str(root)


def test_expressions_are_read_with_roles_and_sorted(tmp_path):
    split = read_split(_write(tmp_path, {'1': _exp('B pushed by A', [2], [1], '0'),
                                         '0': _exp('A pushing B', [1], [2], '1')}))
    assert [e['exp_id'] for e in split.expressions] == ['0', '1']
    first = split.expressions[0]
    assert first['anno_id'] == ['1'] and first['target_anno_id'] == ['2']
    assert first['has_interaction'] and first['pair_exp_id'] == '1'
    assert first['frame_names'] == FRAMES and set(split.mask_dict) == {'1', '2'}


@pytest.mark.parametrize('exp,match', [
    (_exp('A pushing B', [1], [2], '9'), "pair_exp_id '9' is not another expression"),
    (_exp('A', [3]), 'anno id 3 is missing from .*mask_dict.json'),
    (_exp('', [1]), r'the expression \("exp"\) must be a non-empty string'),
    (_exp('nobody', []), 'no actor anno_id'),
])
def test_invalid_expressions_name_the_file_video_and_expression(tmp_path, exp, match):
    root = _write(tmp_path, {'0': exp})
    with pytest.raises(InvalidAnnotationError,
                       match=rf'meta_expressions.json: video v expression 0: {match}'):
        read_split(root)
