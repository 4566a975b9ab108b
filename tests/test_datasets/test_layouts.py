"""Dataset layouts: MeViS / ReVOS / Ref-YouTube-VOS / Ref-DAVIS readers."""
import json
import os
import os.path as osp
import shutil
import sys

import numpy as np
import pytest
from PIL import Image

DATA_DIR = osp.abspath(osp.join(osp.dirname(__file__), '..', 'data'))
sys.path.insert(0, DATA_DIR)
from interrvos_fixtures import MEVIS_SPEC, expected_masks, write_split  # noqa: E402

import mmreviosa.datasets.transforms.loading  # noqa: E402,F401
import mmreviosa.datasets.transforms.sampling  # noqa: E402,F401
from mmreviosa.datasets.interrvos import InterRVOSDataset  # noqa: E402
from mmreviosa.datasets.layouts import parse_expression, resolve_ann_file  # noqa: E402
from mmreviosa.fileio import InvalidAnnotationError  # noqa: E402

LOAD_ALL = [dict(type='SampleFrames', mode='test'), dict(type='LoadVideoFrames'),
            dict(type='LoadRoleMasks')]
WHERE = 'meta.json: video v expression 0'


def test_parse_interrvos_expression_normalises_ids():
    parsed = parse_expression('interrvos', dict(exp='a pushes b', obj_id=[1], anno_id=[10],
                                                target_obj_id=[2], target_anno_id=[11],
                                                pair_exp_id=3), WHERE)
    assert parsed == dict(expression='a pushes b', obj_id=[1], anno_id=['10'],
                          target_obj_id=[2], target_anno_id=['11'], pair_exp_id='3')


def test_parse_mevis_expression_drops_roles_and_revos_keeps_type_id():
    exp = dict(exp='x', obj_id=[1], anno_id=[10], target_anno_id=[11], pair_exp_id='1',
               type_id=1)
    mevis = parse_expression('mevis', exp, WHERE)
    assert (mevis['target_anno_id'], mevis['pair_exp_id']) == ([], None)
    assert 'type_id' not in mevis
    assert parse_expression('revos', exp, WHERE)['type_id'] == 1


def test_parse_refytvos_scalar_string_obj_id():
    parsed = parse_expression('refytvos', dict(exp='a person', obj_id='2'), WHERE)
    assert (parsed['obj_id'], parsed['anno_id']) == ([2], [])


@pytest.mark.parametrize('exp,match', [
    ('just text', 'expected an object'),
    (dict(exp='  '), 'non-empty string'),
    (dict(exp='x', obj_id=['a']), 'obj_id must be a list of integers'),
    (dict(exp='x', anno_id=[1.5]), 'anno_id must be a list of ids'),
    (dict(exp='x', anno_id=[1], pair_exp_id=[2]), 'pair_exp_id must be an id or null'),
])
def test_parse_rejects_malformed_entries(exp, match):
    with pytest.raises(InvalidAnnotationError, match=f'{WHERE}: .*{match}'):
        parse_expression('interrvos', exp, WHERE)


def test_unknown_layout_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"Unknown dataset layout 'kinetics'.*'mevis'"):
        parse_expression('kinetics', dict(exp='x'), WHERE)


def test_resolve_ann_file_candidates(tmp_path):
    split = tmp_path / 'ytvos' / 'train'
    split.mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match='meta_expressions'):
        resolve_ann_file('refytvos', str(split))
    shared = tmp_path / 'ytvos' / 'meta_expressions' / 'train' / 'meta_expressions.json'
    shared.parent.mkdir(parents=True)
    shared.write_text('{}')
    assert resolve_ann_file('refytvos', str(split)) == str(shared)
    # An explicit relative file is taken relative to data_root.
    assert resolve_ann_file('interrvos', str(split), 'x.json') == str(split / 'x.json')


# ------------------------------------------------------------ palette layouts
def _write_palette_split(root, layout_root):
    """Ref-YouTube-VOS style: JPEGs, palette PNG masks and a shared meta_expressions folder."""
    split = osp.join(layout_root, 'train')
    size, names = (12, 16), ['00000', '00005', '00010']
    ids = np.zeros((3, *size), dtype=np.uint8)
    ids[:, 1:5, 2:7] = 1
    ids[:, 6:11, 9:15] = 2
    ids[2, 1:5, 2:7] = 0  # object 1 leaves in the last frame
    os.makedirs(osp.join(split, 'JPEGImages', 'v1'))
    os.makedirs(osp.join(split, 'Annotations', 'v1'))
    palette = [0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * (256 * 3 - 9)
    for name, frame_ids in zip(names, ids):
        Image.fromarray(np.full((*size, 3), 90, np.uint8)).save(
            osp.join(split, 'JPEGImages', 'v1', name + '.jpg'))
        png = Image.fromarray(frame_ids, mode='P')
        png.putpalette(palette)
        png.save(osp.join(split, 'Annotations', 'v1', name + '.png'))
    meta = {'videos': {'v1': {'frames': names, 'expressions': {
        '0': {'exp': 'a red thing', 'obj_id': '1'},
        '1': {'exp': 'a green thing', 'obj_id': '2'}}}}}
    meta_dir = osp.join(layout_root, 'meta_expressions', 'train')
    os.makedirs(meta_dir)
    with open(osp.join(meta_dir, 'meta_expressions.json'), 'w') as f:
        json.dump(meta, f)
    return split, ids


@pytest.mark.parametrize('layout', ['refytvos', 'refdavis'])
def test_palette_layout_masks_are_the_object_pixels(tmp_path, layout):
    split, ids = _write_palette_split(tmp_path, str(tmp_path / layout))
    dataset = InterRVOSDataset(split, pipeline=LOAD_ALL, layout=layout)
    assert len(dataset) == 2
    for idx, obj in enumerate((1, 2)):
        results = dataset[idx]
        assert results['mask_format'] == 'palette' and results['has_interaction'] is False
        np.testing.assert_array_equal(results['gt_actor_masks'], ids == obj)
        assert not results['gt_target_masks'].any()


def test_palette_layout_missing_png_is_an_error(tmp_path):
    split, _ = _write_palette_split(tmp_path, str(tmp_path / 'ytvos'))
    os.remove(osp.join(split, 'Annotations', 'v1', '00005.png'))
    with pytest.raises(InvalidAnnotationError, match=r'video v1 expression 0,1: 1 frames have '
                                                     r'no mask PNG .*00005'):
        InterRVOSDataset(split, layout='refytvos')


def test_palette_valid_split_without_annotations_loads_in_test_mode(tmp_path):
    split, _ = _write_palette_split(tmp_path, str(tmp_path / 'ytvos'))
    shutil.rmtree(osp.join(split, 'Annotations'))
    dataset = InterRVOSDataset(split, layout='refytvos', test_mode=True)
    assert dataset.get_data_info(0)['mask_format'] is None


# ---------------------------------------------------------------------- ReVOS
def test_revos_reads_the_split_file_by_mode_and_keeps_type_id(tmp_path):
    root = str(tmp_path / 'ReVOS')
    write_split(root, MEVIS_SPEC, meta_name='meta_expressions_train_.json')
    with open(osp.join(root, 'meta_expressions_train_.json')) as f:
        meta = json.load(f)
    for video in meta['videos'].values():
        for exp in video['expressions'].values():
            exp['type_id'] = 1
    # The valid file holds one expression, a referring one.
    valid = {'videos': {'mv_dog': dict(meta['videos']['mv_dog'])}}
    valid['videos']['mv_dog']['expressions'] = {
        '0': dict(exp='the dog', obj_id=[0], anno_id=[3], type_id=0)}
    for name, content in (('meta_expressions_train_.json', meta),
                          ('meta_expressions_valid_.json', valid)):
        with open(osp.join(root, name), 'w') as f:
            json.dump(content, f)

    train = InterRVOSDataset(root, layout='revos')
    assert len(train) == 3
    assert all(train.get_data_info(i)['type_id'] == 1 for i in range(3))
    test = InterRVOSDataset(root, pipeline=LOAD_ALL, layout='revos', test_mode=True)
    assert len(test) == 1
    results = test[0]
    assert results['type_id'] == 0
    np.testing.assert_array_equal(results['gt_actor_masks'],
                                  expected_masks(MEVIS_SPEC, 'mv_dog', [3], [0, 1]))
