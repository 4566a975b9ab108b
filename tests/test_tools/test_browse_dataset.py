"""tools/analysis_tools/browse_dataset.py on the tiny fixtures."""
import os
import os.path as osp
import sys

import numpy as np
import pytest
from PIL import Image

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
DATA_DIR = osp.join(REPO, 'tests', 'data')
CONFIG = osp.join(DATA_DIR, 'configs', 'browse_interrvos.py')
sys.path.insert(0, DATA_DIR)
from interrvos_fixtures import write_split  # noqa: E402

from mmreviosa.testing import load_tool  # noqa: E402

browse = load_tool('tools/analysis_tools/browse_dataset.py')


def _gif_frames(path):
    with Image.open(path) as gif:
        frames = []
        for i in range(gif.n_frames):
            gif.seek(i)
            frames.append(np.asarray(gif.convert('RGB')))
    return np.stack(frames)


def test_data_root_writes_one_captioned_gif_per_expression(tmp_path):
    root = str(tmp_path / 'valid')
    write_split(root)
    out = str(tmp_path / 'out')
    written = browse.main(['--data-root', root, '--output-dir', out, '--not-show',
                           '--display-size', '64'])
    names = ['vid_a_0.gif', 'vid_a_1.gif', 'vid_a_2.gif', 'vid_b_0.gif']
    assert sorted(os.listdir(out)) == names
    assert written == [osp.join(out, n) for n in names]
    frames = _gif_frames(osp.join(out, 'vid_a_0.gif'))
    # All 4 frames, upscaled x3 (24x32 -> 72x96) under a caption band.
    assert frames.shape[0] == 4 and frames.shape[2] == 96 and frames.shape[1] > 72
    image = frames[0, -72:]
    # vid_a exp 0: the actor (box rows 2:10, cols 3:11 of frame 0) is red-tinted and the
    # target (rows 12:20, cols 18:28) blue-tinted; pixel (6, 7) and (16, 23) scaled by 3.
    r, g, b = image[6 * 3 + 1, 7 * 3 + 1].astype(int)
    assert r > 150 and b < 100
    r, g, b = image[16 * 3 + 1, 23 * 3 + 1].astype(int)
    assert b > 150 and r < 100
    # Background is the untouched grey frame.
    assert np.abs(image[1, 90].astype(int) - 128).max() < 10


def test_expression_without_target_shows_no_blue(tmp_path):
    root = str(tmp_path / 'valid')
    write_split(root)
    out = str(tmp_path / 'out')
    browse.main(['--data-root', root, '--output-dir', out, '--not-show', '--display-size', '1'])
    # vid_b has one object (yellow) and no target: no pixel is strongly blue.
    image = _gif_frames(osp.join(out, 'vid_b_0.gif'))[0, -20:].astype(int)
    assert not ((image[..., 2] > 150) & (image[..., 0] < 100)).any()


def test_config_phases_truncate_the_pipeline_and_write_png_frames(tmp_path):
    out = str(tmp_path / 'png')
    written = browse.main([CONFIG, '--phase', 'val', '--output-dir', out, '--not-show',
                           '--format', 'png', '--max-items', '2',
                           '--cfg-options', f'val_dataloader.dataset.data_root='
                           f'{osp.join(DATA_DIR, "mevis_tiny", "train")}'])
    assert sorted(os.listdir(out)) == ['mv_cat_0', 'mv_cat_1']
    assert sorted(os.listdir(osp.join(out, 'mv_cat_0'))) == ['00000.png', '00001.png',
                                                             '00002.png']
    assert len(written) == 6


def test_config_train_phase_with_data_root_override(tmp_path):
    root = str(tmp_path / 'train')
    write_split(root)
    out = str(tmp_path / 'gif')
    np.random.seed(0)
    browse.main([CONFIG, '--phase', 'train', '--data-root', root, '--output-dir', out,
                 '--not-show', '--max-items', '1', '--display-size', '1'])
    frames = _gif_frames(osp.join(out, 'vid_a_0.gif'))
    assert frames.shape[0] == 2  # the config's SampleFrames(num_frames=2, mode='train')


def test_truncate_pipeline_stops_before_resizing():
    pipeline = [dict(type='SampleFrames'), dict(type='mmreviosa.LoadVideoFrames'),
                dict(type='LoadRoleMasks'), dict(type='ResizeForModels'),
                dict(type='PackInterRVOSInputs')]
    assert browse.truncate_pipeline(pipeline) == pipeline[:3]


def test_arguments_need_a_source_and_something_to_do(tmp_path):
    with pytest.raises(SystemExit):
        browse.parse_args(['--not-show', '--output-dir', str(tmp_path)])
    with pytest.raises(SystemExit):
        browse.parse_args(['--data-root', str(tmp_path), '--not-show'])


def test_train_phase_of_a_packing_config_shows_each_expression(tmp_path):
    """The tiny config packs 5 expressions per training item; browsing shows them one by one."""
    root = str(tmp_path / 'train')
    write_split(root)
    out = str(tmp_path / 'gif')
    tiny = osp.join(REPO, 'configs', 'reviosa', 'reviosa_tiny_intershapes.py')
    written = browse.main([tiny, '--phase', 'train', '--data-root', root, '--output-dir', out,
                           '--not-show', '--display-size', '1'])
    assert sorted(osp.basename(p) for p in written) == \
        sorted(f for f in os.listdir(out)) and 'vid_a_0.gif' in os.listdir(out)
    assert len(written) > 1
