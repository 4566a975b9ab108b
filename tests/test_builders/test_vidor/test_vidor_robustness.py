"""Resuming an interrupted conversion, bad VidOR input, parallel workers."""
import json
import logging
import os
import os.path as osp

import numpy as np
import pytest

from mmreviosa.builders.vidor import ConvertOptions, VideoReadError, convert
from mmreviosa.builders.vidor import pipeline as pipeline_module
from mmreviosa.builders.vidor.reader import (VidORFormatError, load_vidor_video,
                                             sample_frame_ids)
from mmreviosa.fileio import decode_rle
from vidor_sample_data import (BLUE, GREEN, HEIGHT, RED, WIDTH, make_sample, relation,
                               write_vidor_video)


def stage_mtimes(out, video_id):
    work = osp.join(out, '_work', video_id)
    return {name: os.stat(osp.join(work, name)).st_mtime_ns for name in sorted(os.listdir(work))}


def read_meta(out):
    with open(osp.join(out, 'meta_expressions.json')) as file:
        return json.load(file)


def test_interrupted_run_resumes_without_redoing_finished_videos(vidor_root, tmp_path,
                                                                 monkeypatch):
    out = str(tmp_path / 'out')
    options = ConvertOptions(vidor_root, 'training', out, mask_source='box')
    real_stage4 = pipeline_module.run_expressions_stage

    def killed_in_second_video(video_id, *args, **kwargs):
        if video_id == '1002':
            raise KeyboardInterrupt  # like Ctrl-C in the middle of video 1002
        return real_stage4(video_id, *args, **kwargs)

    monkeypatch.setattr(pipeline_module, 'run_expressions_stage', killed_in_second_video)
    with pytest.raises(KeyboardInterrupt):
        convert(options, print_table=False)
    assert not osp.exists(osp.join(out, 'meta_expressions.json'))
    assert sorted(stage_mtimes(out, '1001')) == [f'stage{i}.json' for i in (1, 2, 3, 4)]
    assert sorted(stage_mtimes(out, '1002')) == [f'stage{i}.json' for i in (1, 2, 3)]
    before = {v: stage_mtimes(out, v) for v in ('1001', '1002')}

    monkeypatch.setattr(pipeline_module, 'run_expressions_stage', real_stage4)
    stats = convert(options, print_table=False)
    # 1001: all 4 reused; 1002: 3 reused + stage 4; 1003: 4 computed.
    assert stats['stages'] == {'computed': 5, 'reused': 7}
    assert stage_mtimes(out, '1001') == before['1001']
    after_1002 = stage_mtimes(out, '1002')
    assert {k: after_1002[k] for k in before['1002']} == before['1002']

    # The resumed output equals an uninterrupted conversion.
    fresh = str(tmp_path / 'fresh')
    convert(ConvertOptions(vidor_root, 'training', fresh, mask_source='box'), print_table=False)
    assert read_meta(out) == read_meta(fresh)
    # A finished run redoes nothing; changed settings redo what they affect.
    assert convert(options, print_table=False)['stages'] == {'computed': 0, 'reused': 12}
    options.fps = 3
    assert convert(options, print_table=False)['stages'] == {'computed': 12, 'reused': 0}
    assert read_meta(out)['videos']['1001']['frames'] == ['00000', '00010', '00020', '00030']


@pytest.fixture
def bad_root(tmp_path):
    root = str(tmp_path / 'bad')
    write_vidor_video(root, 'training', '0000', '2001', [
        # Partly left of the frame on every frame.
        dict(tid=0, category='adult', colour=RED, box=(-10, 20, 30, 80)),
        # Leaves the frame: entirely outside from frame 20 on.
        dict(tid=1, category='dog', colour=GREEN, box=(100, 60, 120, 80), velocity=(3, 0)),
        dict(tid=5, category='cup', colour=BLUE, box=(0, 0, 5, 5), no_boxes=True),
    ], [relation(0, 'hold', 5),                # tid 5 has no trajectory
        relation(0, 'hold', 7),                # tid 7 is not even listed
        relation(0, 'watch', 1, 10, 100),      # span beyond the 36 frames: clipped
        relation(0, 'push', 1, 50, 60)])       # span entirely beyond: dropped
    write_vidor_video(root, 'training', '0000', '2002', [
        dict(tid=0, category='dog', colour=GREEN, box=(10, 10, 30, 30))], [],
        video_bytes=b'this is not an mp4 file')
    write_vidor_video(root, 'training', '0000', '2003', [
        dict(tid=0, category='dog', colour=GREEN, box=(10, 10, 30, 30))], [], write_video=False)
    with open(osp.join(root, 'annotation', 'training', '0000', '2004.json'), 'w') as file:
        json.dump({'video_id': '2004', 'frame_count': 3, 'width': 10, 'height': 10}, file)
    # The annotation claims 10 more frames than the 36 of the video file.
    annotation = write_vidor_video(root, 'training', '0001', '2005', [
        dict(tid=0, category='dog', colour=GREEN, box=(10, 10, 30, 30))], [])
    annotation['frame_count'] += 10
    annotation['trajectories'] += [annotation['trajectories'][-1]] * 10
    with open(osp.join(root, 'annotation', 'training', '0001', '2005.json'), 'w') as file:
        json.dump(annotation, file)
    return root


@pytest.mark.parametrize('count,fps,target,expected', [
    (36, 30, 6, list(range(0, 36, 5))), (36, 29.97, 6, list(range(0, 36, 5))),
    (10, 30, 10, list(range(0, 10, 3))), (5, 30, 60, [0, 1, 2, 3, 4]),
    (5, 30, 0, [0, 1, 2, 3, 4]), (5, 30, None, [0, 1, 2, 3, 4])])
def test_frame_sampling(count, fps, target, expected):
    assert sample_frame_ids(count, fps, target) == expected


def test_bad_input_is_clipped_or_skipped_with_names(bad_root, tmp_path, caplog):
    out = str(tmp_path / 'out')
    with caplog.at_level(logging.WARNING):
        stats = convert(ConvertOptions(bad_root, 'training', out, mask_source='box'),
                        print_table=False)
    reasons = stats['videos']['skipped_reasons']
    assert stats['videos']['converted'] == 2 and sorted(reasons) == ['2002', '2003', '2004']
    assert '2002.mp4' in reasons['2002'] and 'does not exist' in reasons['2003']
    assert '2004.json' in reasons['2004'] and '"fps"' in reasons['2004']
    issues = '\n'.join(stats['issues'])
    assert 'video 2001: relation 0 (0 hold 5) skipped: tid 5 has no trajectory' in issues
    assert 'video 2001: relation 1 (0 hold 7) skipped: tid 7 has no trajectory' in issues
    assert 'video 2001: tid 0: 36 boxes outside the 160x96 frame were clipped' in issues
    assert 'video 2001: relation 2 (0 watch 1): span [10, 100) clipped' in issues
    assert 'video 2001: relation 3 (0 push 1) skipped' in issues
    assert 'video 2005: ' in issues and '2 sampled frames missing' in issues
    for message in ('tid 5 has no trajectory', 'video 2002', 'video 2003'):
        assert message in caplog.text

    meta = read_meta(out)
    exps = meta['videos']['2001']['expressions'].values()
    watch = [e for e in exps if e['target_obj_id'] == [1] and e['obj_id'] == [0]]
    assert len(watch) == 1 and 'watching' in watch[0]['exp']
    assert not any(5 in e['obj_id'] + e['target_obj_id'] for e in exps)
    with open(osp.join(out, 'mask_dict.json')) as file:
        masks = json.load(file)
    adult = [decode_rle(r) for r in masks[str(watch[0]['anno_id'][0])]]
    expected = np.zeros((HEIGHT, WIDTH), bool)
    expected[20:80, 0:30] = True  # (-10, 20, 30, 80) clipped to the frame
    assert all(np.array_equal(m, expected) for m in adult)
    dog = masks[str(watch[0]['target_anno_id'][0])]
    # The dog's box starts at x=100+3f: fully outside (x0 >= 160) from frame 20.
    frames = [int(f) for f in meta['videos']['2001']['frames']]
    assert [r is None for r in dog] == [f >= 20 for f in frames]
    # Frames past the end of the file are left out (0..35 of 0..45).
    assert meta['videos']['2005']['frames'] == [f'{i:05d}' for i in range(0, 36, 5)]


def test_strict_mode_raises_naming_the_video(bad_root, tmp_path):
    options = ConvertOptions(bad_root, 'training', str(tmp_path / 'out'), mask_source='box',
                             video_ids=['2002'], strict=True)
    with pytest.raises(VideoReadError, match='2002'):
        convert(options, print_table=False)


def test_format_errors_name_the_file_and_key(bad_root):
    path = osp.join(bad_root, 'annotation', 'training', '0000', '2004.json')
    with pytest.raises(VidORFormatError, match=r'2004\.json: missing key "fps"'):
        load_vidor_video(path, bad_root)


@pytest.mark.slow
def test_parallel_workers_give_the_same_output(tmp_path):
    root = str(tmp_path / 'vidor')
    make_sample(root)
    serial, parallel = str(tmp_path / 'serial'), str(tmp_path / 'parallel')
    convert(ConvertOptions(root, 'training', serial, mask_source='box'), print_table=False)
    stats = convert(ConvertOptions(root, 'training', parallel, mask_source='box', workers=2),
                    print_table=False)
    assert stats['videos']['converted'] == 3
    assert read_meta(parallel) == read_meta(serial)
