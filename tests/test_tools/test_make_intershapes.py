"""tools/dataset_converters/make_intershapes.py never mixes old and new files, and the demo's
data step (tools/run_demo.py) works on a fresh clone, after an interruption and on a rerun."""
import os
import os.path as osp
import subprocess
import sys

import pytest

from mmreviosa.testing import REPO_ROOT, load_tool

run_demo = load_tool('tools/run_demo.py')
ENV = dict(os.environ, MMREVIOSA_NUM_THREADS='1', OMP_NUM_THREADS='1')


def _make(out, *extra):
    return subprocess.run([sys.executable, 'tools/dataset_converters/make_intershapes.py',
                           '--out', out, '--num-videos', '2', '--frame-size', '32',
                           '--num-frames', '4', *extra],
                          cwd=REPO_ROOT, env=ENV, capture_output=True, text=True, timeout=300)


def _files(root):
    return sorted(osp.relpath(osp.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def test_existing_output_is_refused_unless_overwrite_clears_it(tmp_path):
    out = str(tmp_path / 'shapes')
    assert _make(out).returncode == 0
    fresh = _files(out)
    stale = osp.join(out, 'train', 'JPEGImages', 'train_00099')  # a video of an older run
    os.makedirs(stale)
    open(osp.join(stale, '00000.jpg'), 'wb').close()

    refused = _make(out, '--seed', '1')
    assert refused.returncode == 2
    assert f'{out} is not empty' in refused.stderr and '--overwrite' in refused.stderr
    assert osp.exists(stale)  # nothing was touched

    assert _make(out, '--seed', '1', '--overwrite').returncode == 0
    assert _files(out) == fresh  # the same file names, the stale video gone


def test_overwrite_leaves_a_folder_with_other_content_alone(tmp_path):
    out = tmp_path / 'data'
    (out / 'my_dataset').mkdir(parents=True)
    (out / 'my_dataset' / 'notes.txt').write_text('keep me')
    result = _make(str(out), '--overwrite')
    assert result.returncode == 2 and 'my_dataset' in result.stderr
    assert (out / 'my_dataset' / 'notes.txt').read_text() == 'keep me'


def test_demo_generates_data_on_a_fresh_clone_after_an_interruption_but_not_on_a_rerun(
        tmp_path):
    root = str(tmp_path / 'intershapes')
    command = run_demo.generate_command(sys.executable, root, num_videos=2, seed=0)
    assert command is not None and '--overwrite' in command  # fresh: no folder yet
    command = [*command, '--frame-size', '32', '--num-frames', '4']
    subprocess.run(command, cwd=REPO_ROOT, env=ENV, check=True, capture_output=True, timeout=300)
    assert run_demo.generate_command(sys.executable, root, 2, 0) is None  # complete: rerun
    os.remove(osp.join(root, 'test', 'mask_dict.json'))  # interrupted while writing test/
    command = run_demo.generate_command(sys.executable, root, 2, 0)
    assert command is not None
    subprocess.run([*command, '--frame-size', '32', '--num-frames', '4'], cwd=REPO_ROOT,
                   env=ENV, check=True, capture_output=True, timeout=300)
    assert run_demo.generate_command(sys.executable, root, 2, 0) is None


@pytest.fixture
def checkpoint(tmp_path):
    import torch
    path = str(tmp_path / 'none.pth')
    torch.save(dict(state_dict={'scale': torch.zeros(())}), path)
    return path


def test_test_tool_refuses_to_replace_an_existing_out_file(tmp_path, checkpoint):
    out = tmp_path / 'metrics_of_another_run.json'
    out.write_text('{"interrvos/actor_J": 61.5}')
    config = osp.join(REPO_ROOT, 'tests', 'data', 'configs', 'gt_noise_intershapes.py')
    result = subprocess.run([sys.executable, 'tools/test.py', config, checkpoint, '--out',
                             str(out), '--work-dir', str(tmp_path / 'work')],
                            cwd=REPO_ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert f'{out} exists' in result.stderr and '--overwrite' in result.stderr
    assert out.read_text() == '{"interrvos/actor_J": 61.5}'


def test_demo_gif_shows_an_interaction_ambiguous_by_appearance(tmp_path):
    import json
    videos = {
        'b': dict(objects={'1': dict(color='red', shape='star'),
                           '2': dict(color='red', shape='star'),
                           '3': dict(color='blue', shape='square')},
                  expressions={'0': dict(exp='x', obj_id=[3], target_anno_id=[1]),
                               '1': dict(exp='y', obj_id=[2], target_anno_id=[3]),
                               '2': dict(exp='z', obj_id=[1], target_anno_id=[])}),
        'a': dict(objects={'1': dict(color='red', shape='star'),
                           '2': dict(color='blue', shape='star')},
                  expressions={'0': dict(exp='w', obj_id=[1], target_anno_id=[]),
                               '1': dict(exp='v', obj_id=[1], target_anno_id=[2])}),
    }
    meta = tmp_path / 'meta_expressions.json'
    meta.write_text(json.dumps(dict(videos=videos)))
    # Video a's interaction names a unique shape; b's expression 1 names one of two red stars
    # (expression 2 does too, but has no interaction).
    assert run_demo.showcase_expression(str(meta)) == ('b', videos['b']['expressions']['1'])
    del videos['b']
    meta.write_text(json.dumps(dict(videos=videos)))
    assert run_demo.showcase_expression(str(meta)) == ('a', videos['a']['expressions']['1'])
