"""InterRVOSDataset: items, masks, frame sources, memory layout and bad input."""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

DATA_DIR = osp.abspath(osp.join(osp.dirname(__file__), '..', 'data'))
sys.path.insert(0, DATA_DIR)
from interrvos_fixtures import (INTERRVOS_SPEC, MEVIS_SPEC, edit_json,  # noqa: E402
                                expected_masks, write_split)

import mmreviosa.datasets.transforms.loading  # noqa: E402,F401
import mmreviosa.datasets.transforms.sampling  # noqa: E402,F401
from mmreviosa.datasets import interrvos  # noqa: E402
from mmreviosa.datasets.interrvos import InterRVOSDataset  # noqa: E402
from mmreviosa.fileio import InvalidAnnotationError  # noqa: E402

MEVIS_ROOT = osp.join(DATA_DIR, 'mevis_tiny', 'train')
LOAD_ALL = [dict(type='SampleFrames', mode='test'), dict(type='LoadVideoFrames'),
            dict(type='LoadRoleMasks')]


@pytest.fixture
def split(tmp_path):
    root = str(tmp_path / 'valid')
    write_split(root)
    return root


def _item_by_ids(dataset, video_id, exp_id):
    for idx in range(len(dataset)):
        info = dataset.get_data_info(idx)
        if (info['video_id'], info['exp_id']) == (video_id, exp_id):
            return idx, info
    raise KeyError((video_id, exp_id))


def test_one_item_per_expression_with_role_fields(split):
    dataset = InterRVOSDataset(split)
    ids = [(dataset.get_data_info(i)['video_id'], dataset.get_data_info(i)['exp_id'])
           for i in range(len(dataset))]
    assert ids == [('vid_a', '0'), ('vid_a', '1'), ('vid_a', '2'), ('vid_b', '0')]

    _, info = _item_by_ids(dataset, 'vid_a', '0')
    assert info['expression'] == 'the red square pushing the blue box'
    assert (info['anno_id'], info['target_anno_id']) == (['10'], ['11'])
    assert (info['obj_id'], info['target_obj_id']) == ([1], [2])
    assert info['has_interaction'] is True and info['pair_exp_id'] == '1'
    assert info['frame_names'] == ['00000', '00001', '00002', '00003']
    assert info['num_video_frames'] == 4 and info['ori_shape'] == (24, 32)
    assert info['frame_paths'] == [osp.join(split, 'JPEGImages', 'vid_a', f'0000{i}.jpg')
                                   for i in range(4)]
    assert info['video_path'] is None

    # A MeViS-style entry (no target fields, no pair) is actor-only.
    _, info = _item_by_ids(dataset, 'vid_b', '0')
    assert info['target_anno_id'] == [] and info['has_interaction'] is False
    assert info['pair_exp_id'] is None and info['ori_shape'] == (20, 30)


@pytest.mark.parametrize('video_id,exp_id', [('vid_a', '0'), ('vid_a', '1'), ('vid_a', '2'),
                                             ('vid_b', '0')])
def test_masks_are_the_union_of_the_role_annos(split, video_id, exp_id):
    dataset = InterRVOSDataset(split, pipeline=LOAD_ALL, test_mode=True)
    idx, info = _item_by_ids(dataset, video_id, exp_id)
    results = dataset[idx]
    exp = INTERRVOS_SPEC[video_id]['expressions'][exp_id]
    frame_inds = list(range(info['num_video_frames']))
    np.testing.assert_array_equal(
        results['gt_actor_masks'], expected_masks(INTERRVOS_SPEC, video_id, exp['anno_id'],
                                                  frame_inds))
    np.testing.assert_array_equal(
        results['gt_target_masks'],
        expected_masks(INTERRVOS_SPEC, video_id, exp.get('target_anno_id', []), frame_inds))
    # The frames show each actor box in its colour where the mask says it is.
    anno = str(exp['anno_id'][0])
    y0, y1, x0, x1 = INTERRVOS_SPEC[video_id]['boxes'][anno][0]
    centre = results['frames'][0, (y0 + y1) // 2, (x0 + x1) // 2].astype(int)
    assert np.abs(centre - INTERRVOS_SPEC[video_id]['colors'][anno]).max() <= 12


def test_serialized_and_plain_items_are_equal(split):
    serialized = InterRVOSDataset(split, serialize_data=True)
    plain = InterRVOSDataset(split, serialize_data=False)
    assert len(serialized) == len(plain) == 4
    for idx in range(4):
        assert serialized.get_data_info(idx) == plain.get_data_info(idx)


def test_item_storage_does_not_grow_with_video_length(tmp_path):
    """Frame lists and masks are held once per dataset, not copied into every item."""
    def spec_with(num_frames):
        video = dict(size=(8, 8), boxes={'1': [(1, 4, 1, 4)] * num_frames},
                     colors={'1': (255, 0, 0)},
                     expressions={str(i): dict(exp=f'box {i}', obj_id=[1], anno_id=[1])
                                  for i in range(3)})
        return {'v': video}
    write_split(str(tmp_path / 'short'), spec_with(2))
    write_split(str(tmp_path / 'long'), spec_with(60))
    short = InterRVOSDataset(str(tmp_path / 'short'))
    long = InterRVOSDataset(str(tmp_path / 'long'))
    assert len(long.data_bytes) == len(short.data_bytes)
    assert len(long.get_data_info(0)['actor_rles'][0]) == 60


def test_max_expressions_keeps_the_first_items(split):
    dataset = InterRVOSDataset(split, max_expressions=2)
    assert [dataset.get_data_info(i)['exp_id'] for i in range(len(dataset))] == ['0', '1']


@pytest.mark.parametrize('layout', ['mevis', 'interrvos'])
def test_mevis_sample_loads_as_actor_only(layout):
    dataset = InterRVOSDataset(MEVIS_ROOT, pipeline=LOAD_ALL, layout=layout)
    assert len(dataset) == 3
    for idx in range(3):
        results = dataset[idx]
        assert results['has_interaction'] is False and results['target_anno_id'] == []
        exp = MEVIS_SPEC[results['video_id']]['expressions'][results['exp_id']]
        inds = list(range(results['num_video_frames']))
        np.testing.assert_array_equal(
            results['gt_actor_masks'],
            expected_masks(MEVIS_SPEC, results['video_id'], exp['anno_id'], inds))
        assert not results['gt_target_masks'].any()
    # mv_dog is absent (null RLE) on its second frame.
    _, info = _item_by_ids(dataset, 'mv_dog', '0')
    assert info['actor_rles'][0][1] is None


def test_mevis_layout_ignores_target_fields(split):
    dataset = InterRVOSDataset(split, layout='mevis')
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert not any(info['has_interaction'] or info['target_anno_id'] for info in infos)
    assert all(info['pair_exp_id'] is None for info in infos)


@pytest.mark.parametrize('folder', ['JPEGImages', 'videos'])
def test_frames_from_video_files(tmp_path, split, folder):
    root = str(tmp_path / 'video_split')
    write_split(root, as_video=True)
    if folder == 'videos':
        shutil.move(osp.join(root, 'JPEGImages'), osp.join(root, 'videos'))
    videos = InterRVOSDataset(root, pipeline=LOAD_ALL, test_mode=True)
    jpegs = InterRVOSDataset(split, pipeline=LOAD_ALL, test_mode=True)
    for idx in range(len(jpegs)):
        info = videos.get_data_info(idx)
        assert info['frame_paths'] is None
        assert info['video_path'] == osp.join(root, folder, info['video_id'] + '.mp4')
        assert info['frame_names'] == [f'{i:05d}' for i in range(info['num_video_frames'])]
        from_video, from_jpeg = videos[idx], jpegs[idx]
        assert from_video['frames'].shape == from_jpeg['frames'].shape
        # Lossy codecs: compare the mean colour inside the actor mask.
        mask = from_jpeg['gt_actor_masks']
        diff = from_video['frames'][mask].mean(0) - from_jpeg['frames'][mask].mean(0)
        assert np.abs(diff).max() < 20
        np.testing.assert_array_equal(from_video['gt_actor_masks'], mask)


def test_video_file_frame_count_must_match_meta(tmp_path):
    root = str(tmp_path / 'video_split')
    write_split(root, as_video=True)
    edit_json(osp.join(root, 'meta_expressions.json'),
              lambda d: d['videos']['vid_b'].update(frames=['00000', '00001', '00002']))
    with pytest.raises(InvalidAnnotationError, match=r'video vid_b.*lists 3 frames.*has 2'):
        InterRVOSDataset(root)


def test_split_without_masks_loads_only_in_test_mode(split):
    os.remove(osp.join(split, 'mask_dict.json'))
    dataset = InterRVOSDataset(split, test_mode=True)
    info = dataset.get_data_info(0)
    assert info['mask_format'] is None and 'actor_rles' not in info
    with pytest.raises(FileNotFoundError, match='mask_dict.json'):
        InterRVOSDataset(split, test_mode=False)


# ----------------------------------------------------------------- bad input
def _remove_frame(root):
    os.remove(osp.join(root, 'JPEGImages', 'vid_a', '00002.jpg'))


def _rename_frames(root):
    edit_json(osp.join(root, 'meta_expressions.json'),
              lambda d: d['videos']['vid_a'].update(frames=['0', '1', '2', '3']))


def _corrupt_first_frame(root):
    with open(osp.join(root, 'JPEGImages', 'vid_a', '00000.jpg'), 'wb') as f:
        f.write(b'not a jpeg at all')


def _rle_size(root):
    edit_json(osp.join(root, 'mask_dict.json'), lambda d: d['11'][0].update(size=[24, 31]))


def _drop_anno(root):
    edit_json(osp.join(root, 'mask_dict.json'), lambda d: d.pop('12'))


def _short_mask_list(root):
    edit_json(osp.join(root, 'mask_dict.json'), lambda d: d.update({'11': d['11'][:3]}))


def _zero_frames(root):
    edit_json(osp.join(root, 'meta_expressions.json'),
              lambda d: d['videos']['vid_a'].update(frames=[]))


def _bad_pair(root):
    edit_json(osp.join(root, 'meta_expressions.json'),
              lambda d: d['videos']['vid_a']['expressions']['0'].update(pair_exp_id='7'))


def _shared_role(root):
    edit_json(osp.join(root, 'meta_expressions.json'),
              lambda d: d['videos']['vid_a']['expressions']['1'].update(target_anno_id=[11]))


def _no_actor(root):
    edit_json(osp.join(root, 'meta_expressions.json'),
              lambda d: d['videos']['vid_a']['expressions']['2'].update(anno_id=[]))


def _no_text(root):
    edit_json(osp.join(root, 'meta_expressions.json'),
              lambda d: d['videos']['vid_a']['expressions']['2'].pop('exp'))


# (corruption, match of the error, (video, exp) pairs that become invalid)
BAD_INPUTS = {
    'missing_jpeg': (_remove_frame, r'00002.*frame list does not match the folder',
                     ['0', '1', '2']),
    'frame_list_mismatch': (_rename_frames, r'4 of 4 listed frames are not in', ['0', '1', '2']),
    'corrupt_first_jpeg': (_corrupt_first_frame, r'cannot read image .*00000.jpg',
                           ['0', '1', '2']),
    'rle_size': (_rle_size, r'anno id 11 frame 00000: RLE size \[24, 31\] differs from the '
                            r'frame size \[24, 32\]', ['0', '1']),
    'anno_missing': (_drop_anno, r'anno id 12 is missing from .*mask_dict.json', ['2']),
    'mask_list_length': (_short_mask_list, r'anno id 11 has 3 masks.*one \(RLE or null\) per '
                                           r'frame \(4\)', ['0', '1']),
    'zero_frames': (_zero_frames, r'the video has 0 frames', ['0', '1', '2']),
    'pair_not_in_video': (_bad_pair, r"pair_exp_id '7' is not another expression", ['0']),
    'actor_is_target': (_shared_role, r'anno ids \[.11.\] are both actor and target', ['1']),
    'no_actor': (_no_actor, r'no actor anno_id', ['2']),
    'no_text': (_no_text, r'expression \("exp"\) must be a non-empty string', ['2']),
}


@pytest.mark.parametrize('case', sorted(BAD_INPUTS))
def test_bad_input_raises_naming_file_video_and_expression(split, case):
    corrupt, match, bad_exps = BAD_INPUTS[case]
    corrupt(split)
    with pytest.raises(InvalidAnnotationError, match=match) as info:
        InterRVOSDataset(split)
    message = str(info.value)
    assert osp.join(split, 'meta_expressions.json') in message
    assert f'video vid_a expression {bad_exps[0]}' in message


@pytest.mark.parametrize('case', sorted(BAD_INPUTS))
def test_skip_invalid_logs_each_skipped_expression(split, case, monkeypatch):
    corrupt, match, bad_exps = BAD_INPUTS[case]
    corrupt(split)
    logged = []
    monkeypatch.setattr(interrvos, 'print_log', lambda msg, **kwargs: logged.append(msg))
    dataset = InterRVOSDataset(split, skip_invalid=True)
    assert [(v, e) for v, e, _ in dataset.skipped] == [('vid_a', e) for e in bad_exps]
    kept = {(dataset.get_data_info(i)['video_id'], dataset.get_data_info(i)['exp_id'])
            for i in range(len(dataset))}
    all_ids = {('vid_a', '0'), ('vid_a', '1'), ('vid_a', '2'), ('vid_b', '0')}
    assert kept == all_ids - {('vid_a', e) for e in bad_exps}
    for exp_id in bad_exps:
        assert any(f'Skipped video vid_a expression {exp_id}:' in m for m in logged)
    assert any(f'skipped {len(bad_exps)} of 4 expressions' in m for m in logged)


@pytest.mark.parametrize('name', ['meta_expressions.json', 'mask_dict.json'])
def test_malformed_json_is_an_error_naming_the_file(split, name):
    with open(osp.join(split, name), 'w') as f:
        f.write('{"videos": {')
    with pytest.raises(ValueError, match=f'{osp.join(split, name)} is not valid JSON'):
        InterRVOSDataset(split, skip_invalid=True)


def test_json_without_videos_is_an_error(split):
    with open(osp.join(split, 'meta_expressions.json'), 'w') as f:
        json.dump({'vid_a': {}}, f)
    with pytest.raises(ValueError, match=r'meta_expressions.json: expected \{"videos"'):
        InterRVOSDataset(split)


def test_missing_expression_file_names_the_candidates(tmp_path):
    with pytest.raises(FileNotFoundError, match='meta_expressions.json'):
        InterRVOSDataset(str(tmp_path))


def test_corrupt_later_jpeg_fails_when_loaded(split):
    path = osp.join(split, 'JPEGImages', 'vid_a', '00003.jpg')
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])  # truncated: no end-of-image marker
    dataset = InterRVOSDataset(split, pipeline=LOAD_ALL, test_mode=True)
    with pytest.raises(OSError, match=r'video vid_a expression 0: frame 3: .*00003.jpg is not '
                                      r'a complete JPEG'):
        dataset[0]


def test_single_frame_video_is_allowed(tmp_path):
    spec = {'one': dict(size=(10, 12), boxes={'5': [(2, 6, 3, 9)]}, colors={'5': (0, 255, 0)},
                        expressions={'0': dict(exp='the green box', obj_id=[1], anno_id=[5])})}
    root = str(tmp_path / 'one')
    write_split(root, spec)
    pipeline = [dict(type='SampleFrames', num_frames=3, mode='train'),
                dict(type='LoadVideoFrames'), dict(type='LoadRoleMasks')]
    results = InterRVOSDataset(root, pipeline=pipeline)[0]
    assert results['frame_inds'] == [0, 0, 0]
    np.testing.assert_array_equal(results['gt_actor_masks'],
                                  expected_masks(spec, 'one', [5], [0, 0, 0]))


def test_config_of_another_package_builds_the_dataset(split, tmp_path):
    """type='mmreviosa.InterRVOSDataset' under default_scope='mmengine' (fresh interpreter)."""
    config = tmp_path / 'other_package_config.py'
    config.write_text(textwrap.dedent(f'''
        default_scope = 'mmengine'
        custom_imports = dict(imports=['mmreviosa'], allow_failed_imports=False)
        dataset = dict(type='mmreviosa.InterRVOSDataset', data_root={split!r},
                       pipeline=[dict(type='mmreviosa.SampleFrames', mode='test'),
                                 dict(type='mmreviosa.LoadVideoFrames'),
                                 dict(type='mmreviosa.LoadRoleMasks')])
    '''))
    script = textwrap.dedent(f'''
        from mmengine.config import Config
        from mmengine.registry import DATASETS, init_default_scope
        cfg = Config.fromfile({str(config)!r})
        init_default_scope(cfg.default_scope)
        dataset = DATASETS.build(cfg.dataset)
        results = dataset[0]
        print(type(dataset).__module__, len(dataset), results['gt_actor_masks'].shape)
    ''')
    out = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[-5:] == ['mmreviosa.datasets.interrvos', '4', '(4,', '24,', '32)']


def test_intershapes_split_loads_with_consistent_pairs(tmp_path):
    from mmreviosa.builders.intershapes import generate_split
    generate_split(str(tmp_path), 'valid', num_videos=2, seed=0, progress=False)
    dataset = InterRVOSDataset(str(tmp_path / 'valid'), pipeline=LOAD_ALL, test_mode=True)
    assert len(dataset) > 0 and not dataset.skipped
    index = dataset.expression_index()
    for idx in range(len(dataset)):
        results = dataset[idx]
        assert results['gt_actor_masks'].any()
        assert results['gt_target_masks'].any() == results['has_interaction']
        pair = results['pair_exp_id']
        if pair is not None:
            # The inverse expression swaps the roles.
            inverse = dataset.get_data_info(index[(results['video_id'], pair)])
            assert inverse['pair_exp_id'] == results['exp_id']
            assert inverse['anno_id'] == results['target_anno_id']
            assert inverse['target_anno_id'] == results['anno_id']


def test_pickled_store_maps_keys_to_copies_of_values():
    import copy
    import pickle

    from mmreviosa.datasets.pickled_store import PickledStore
    values = {'10': [None, {'size': [2, 2], 'counts': 'x'}], '9': ['a'], 'vid/é': (1, 2)}
    store = PickledStore(values)
    for restored in (store, pickle.loads(pickle.dumps(store)), copy.deepcopy(store)):
        assert len(restored) == 3
        assert all(restored[k] == v for k, v in values.items())
        assert '1' not in restored and '10' in restored
        with pytest.raises(KeyError):
            restored['11']
    store['9'].append('b')  # callers get copies
    assert store['9'] == ['a']
    assert len(PickledStore({})) == 0 and 'x' not in PickledStore({})
