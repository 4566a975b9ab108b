"""COCO RLE encoding, checked decoding and the union of a role's annotations."""
import numpy as np
import pytest

from mmreviosa.fileio import (decode_masks, decode_rle, encode_masks, encode_rle,
                              union_of_annotations)


def _box(top, left, height, width, size=(6, 8)):
    mask = np.zeros(size, bool)
    mask[top:top + height, left:left + width] = True
    return mask


def test_encode_masks_round_trips_and_writes_null_for_empty_frames():
    masks = np.stack([_box(1, 2, 3, 4), np.zeros((6, 8), bool), _box(0, 0, 6, 1)])
    encoded = encode_masks(masks)
    assert encoded[1] is None
    assert all(isinstance(rle['counts'], str) and rle['size'] == [6, 8]
               for rle in (encoded[0], encoded[2]))
    np.testing.assert_array_equal(decode_masks(encoded), masks)
    # One frame alone encodes to the same RLE; an empty one too, when asked for.
    assert encode_rle(masks[0]) == encoded[0]
    assert decode_rle(encode_rle(masks[1])).sum() == 0


def test_union_of_annotations_is_the_or_of_the_roles_masks_on_the_asked_frames():
    empty = np.zeros((6, 8), bool)
    first = [_box(0, 0, 2, 2), empty, _box(4, 4, 2, 2)]
    second = [_box(1, 1, 2, 2), _box(3, 3, 1, 1), empty]
    rles = [encode_masks(np.stack(masks)) for masks in (first, second)]
    union = union_of_annotations(rles, ['10', '11'], [2, 0, 0], (6, 8))
    np.testing.assert_array_equal(union[0], first[2])
    np.testing.assert_array_equal(union[1], first[0] | second[0])
    np.testing.assert_array_equal(union[2], union[1])
    # A role without anno ids has empty masks.
    assert union_of_annotations([], [], [0, 1], (6, 8)).shape == (2, 6, 8)


def test_union_errors_name_where_the_anno_id_and_the_frame():
    rles = [[None, dict(size=[4, 5], counts='522')]]  # runs cover 9 of 20 pixels
    with pytest.raises(ValueError, match=r'^split: video v expression 0: anno id 7 frame f1: RLE '
                                         r'runs cover 9 pixels'):
        union_of_annotations(rles, ['7'], [0, 1], (4, 5), ['f0', 'f1'],
                             'split: video v expression 0')
    with pytest.raises(ValueError, match=r'anno id 7 frame 1: RLE size \[4, 5\] differs'):
        union_of_annotations(rles, ['7'], [1], (4, 6))
