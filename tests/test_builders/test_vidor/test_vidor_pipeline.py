"""End-to-end VidOR -> InterRVOS conversion with box masks and the template backend."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from vidor_sample_data import FRAME_COUNT, HEIGHT, SAMPLE, WIDTH, box_at

from mmreviosa.builders.vidor import ConvertOptions, convert
from mmreviosa.builders.vidor.vocabulary import ACTION_PREDICATES
from mmreviosa.fileio import decode_rle
from mmreviosa.testing import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def box_region(box):
    """Pixels of an integer box, computed by slicing (independent of the pipeline)."""
    mask = np.zeros((HEIGHT, WIDTH), bool)
    x0, y0, x1, y1 = (int(v) for v in box)
    mask[max(0, y0):min(HEIGHT, y1), max(0, x0):min(WIDTH, x1)] = True
    return mask


@pytest.fixture(scope='module')
def converted(vidor_root, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('interrvos'))
    stats = convert(ConvertOptions(vidor_root, 'training', out, mask_source='box'),
                    print_table=False)
    with open(osp.join(out, 'meta_expressions.json')) as file:
        meta = json.load(file)
    with open(osp.join(out, 'mask_dict.json')) as file:
        masks = json.load(file)
    return out, stats, meta, masks


def objects_of(video_id):
    return {o['tid']: o for o in SAMPLE[video_id][1]}


def test_frames_are_sampled_at_the_requested_fps(converted):
    out, _, meta, _ = converted
    # 30 fps sampled at 6 fps: every 5th frame of 36.
    expected = [f'{i:05d}' for i in range(0, FRAME_COUNT, 5)]
    for video_id in SAMPLE:
        assert meta['videos'][video_id]['frames'] == expected
        files = sorted(os.listdir(osp.join(out, 'JPEGImages', video_id)))
        assert files == [f'{name}.jpg' for name in expected]


def test_each_action_relation_has_forward_and_inverse_with_swapped_roles(converted):
    _, _, meta, _ = converted
    checked = 0
    for video_id, (_, _, relations) in SAMPLE.items():
        exps = meta['videos'][video_id]['expressions']
        for rel in relations:
            if rel['predicate'] not in ACTION_PREDICATES:
                continue
            s, o = rel['subject_tid'], rel['object_tid']
            forwards = [(k, e) for k, e in exps.items()
                        if s in e['obj_id'] and e['target_obj_id'] == [o]]
            assert len(forwards) == 1, (video_id, rel)
            key, forward = forwards[0]
            inverse = exps[forward['pair_exp_id']]
            assert inverse['pair_exp_id'] == key
            assert inverse['obj_id'] == [o] and s in inverse['target_obj_id']
            assert inverse['target_obj_id'] == forward['obj_id']
            checked += 1
    assert checked == 6


def test_expression_texts(converted):
    _, _, meta, _ = converted
    texts = {v: {e['exp'] for e in video['expressions'].values()}
             for v, video in meta['videos'].items()}
    assert 'the adult pushing the baby walker' in texts['1001']
    assert 'the baby walker being pushed by the adult' in texts['1001']
    assert 'the ball being kicked by the child' in texts['1002']
    assert 'the dog chasing the ball' in texts['1002']
    # Two adults pushing one car: one one-to-many expression, and its inverse.
    assert 'the two adults pushing the car' in texts['1003']
    assert 'the car being pushed by the two adults' in texts['1003']
    # Two adults: the target of "watch" is named by its colour.
    assert 'the adult in red watching the adult in green' in texts['1003']


def test_one_to_many_group(converted):
    _, _, meta, _ = converted
    exps = meta['videos']['1003']['expressions'].values()
    group = [e for e in exps if e['exp'] == 'the two adults pushing the car'][0]
    assert sorted(group['obj_id']) == [0, 1] and group['target_obj_id'] == [2]
    assert len(set(group['anno_id'])) == 2


def test_masks_cover_actor_and_target_boxes(converted):
    _, _, meta, masks = converted
    for video_id, video in meta['videos'].items():
        objects = objects_of(video_id)
        frame_ids = [int(name) for name in video['frames']]
        for exp in video['expressions'].values():
            for tids, annos in ((exp['obj_id'], exp['anno_id']),
                                (exp['target_obj_id'], exp['target_anno_id'])):
                for tid, anno in zip(tids, annos):
                    rles = masks[str(anno)]
                    assert len(rles) == len(frame_ids)
                    for fid, rle in zip(frame_ids, rles):
                        box = box_at(objects[tid], fid)
                        if box is None:
                            assert rle is None, (video_id, tid, fid)
                            continue
                        assert isinstance(rle['counts'], str) and rle['size'] == [HEIGHT, WIDTH]
                        mask = decode_rle(rle)
                        assert np.array_equal(mask, box_region(box)), (video_id, tid, fid)


def test_single_object_expressions_for_objects_without_relations(converted):
    _, _, meta, _ = converted
    # The dog of 1001 and the car of 1002 are in no relation.
    for video_id, tid, noun in (('1001', 2, 'dog'), ('1002', 3, 'car')):
        singles = [e for e in meta['videos'][video_id]['expressions'].values()
                   if e['obj_id'] == [tid]]
        assert singles and all(e['target_obj_id'] == [] and e['pair_exp_id'] is None
                               for e in singles)
        assert all(noun in e['exp'] for e in singles)
    texts = {e['exp'] for e in meta['videos']['1002']['expressions'].values()}
    assert 'the dog moving left' in texts and 'the ball moving right' in texts


def test_spatial_relations_have_no_target(converted):
    _, _, meta, _ = converted
    exps = meta['videos']['1001']['expressions'].values()
    spatial = [e for e in exps if e['exp'] == 'the baby walker in front of the adult']
    assert len(spatial) == 1
    assert spatial[0]['obj_id'] == [1] and spatial[0]['target_obj_id'] == []


def test_anno_ids_are_unique_ints_per_video_and_tid(converted):
    _, _, meta, masks = converted
    seen = {}
    for video_id, video in meta['videos'].items():
        for exp in video['expressions'].values():
            for tid, anno in zip(exp['obj_id'] + exp['target_obj_id'],
                                 exp['anno_id'] + exp['target_anno_id']):
                assert isinstance(anno, int)
                assert seen.setdefault(anno, (video_id, tid)) == (video_id, tid)
    assert sorted(seen) == sorted(int(k) for k in masks)


def test_statistics_match_the_output(converted):
    out, stats, meta, _ = converted
    exps = [e for v in meta['videos'].values() for e in v['expressions'].values()]
    with_target = sum(bool(e['target_obj_id']) for e in exps)
    assert stats['expressions']['total'] == len(exps)
    assert stats['expressions']['interaction'] == with_target
    assert stats['expressions']['interaction_share'] == pytest.approx(with_target / len(exps))
    assert stats['videos'] == {'converted': 3, 'skipped': 0, 'skipped_reasons': {}}
    assert stats['predicates']['push'] == {'relations': 3, 'interactions': 3, 'expressions': 4}
    assert stats['predicates']['towards']['interactions'] == 0
    # Box masks cover every sampled frame with a box exactly.
    boxes = sum(box_at(o, f) is not None for _, objs, _ in SAMPLE.values() for o in objs
                for f in range(0, FRAME_COUNT, 5))
    assert stats['masks']['boxes'] == boxes and stats['masks']['coverage'] == 1.0
    with open(osp.join(out, 'conversion_stats.json')) as file:
        assert json.load(file) == json.loads(json.dumps(stats))


def test_output_loads_with_the_interrvos_dataset(converted):
    from mmreviosa.datasets.interrvos import InterRVOSDataset
    out, _, meta, _ = converted
    dataset = InterRVOSDataset(data_root=out)
    num_exps = sum(len(v['expressions']) for v in meta['videos'].values())
    assert len(dataset) == num_exps
    index = dataset.expression_index()
    info = dataset.get_data_info(index[('1001', '6')])
    exp = meta['videos']['1001']['expressions']['6']
    assert info['target_obj_id'] == exp['target_obj_id']
    assert len(info['frame_paths']) == len(meta['videos']['1001']['frames'])


@pytest.mark.slow  # a fresh interpreter imports torch: ~15-25 s on 2 busy cores
def test_cli_runs_and_prints_the_table(vidor_root, tmp_path):
    out = tmp_path / 'cli'
    proc = subprocess.run(
        [sys.executable, 'tools/dataset_converters/vidor_to_interrvos.py', '--vidor-root',
         vidor_root, '--split', 'training', '--out', str(out), '--mask-source', 'box',
         '--fps', '3', '--video-ids', '1001'],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert 'interaction share' in proc.stdout and 'push' in proc.stdout
    with open(out / 'meta_expressions.json') as file:
        meta = json.load(file)
    # 3 fps from 30 fps: every 10th frame.
    assert meta['videos']['1001']['frames'] == ['00000', '00010', '00020', '00030']


def load_cli():
    """The CLI script as a module (to call its ``main`` in-process)."""
    return load_tool('tools/dataset_converters/vidor_to_interrvos.py')


def test_cli_refuses_sam2_without_checkpoint(vidor_root, tmp_path, capsys):
    code = load_cli().main(['--vidor-root', vidor_root, '--split', 'training',
                            '--out', str(tmp_path / 'x')])
    assert code == 2 and '--sam2-checkpoint' in capsys.readouterr().err


def test_cli_reads_llm_config_yaml(vidor_root, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv('OPENAI_MODEL', raising=False)
    config = tmp_path / 'llm.yaml'
    config.write_text('base_url: http://127.0.0.1:9/v1\n')
    code = load_cli().main(['--vidor-root', vidor_root, '--split', 'training', '--out',
                            str(tmp_path / 'x'), '--mask-source', 'box', '--backend', 'openai',
                            '--llm-config', str(config)])
    assert code == 2 and 'OPENAI_MODEL' in capsys.readouterr().err


def test_output_browses_with_browse_dataset(converted, tmp_path):
    out, _, meta, _ = converted
    browse = load_tool('tools/analysis_tools/browse_dataset.py')
    written = browse.main(['--data-root', out, '--output-dir', str(tmp_path), '--not-show',
                           '--max-items', '1', '--format', 'png'])
    assert len(written) == len(meta['videos']['1001']['frames'])
    assert all(osp.isfile(p) for p in written)
