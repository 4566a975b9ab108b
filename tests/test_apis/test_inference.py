"""init_model + inference_video on a tiny random model: every input form, masks at input size."""
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from mmreviosa.apis import VideoPrediction, inference_video, init_model
from mmreviosa.fileio import write_video_file

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'reviosa', 'reviosa_tiny_intershapes.py')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    from mmengine.registry import init_default_scope
    from mmengine.runner import save_checkpoint
    from mmengine.config import Config
    from mmreviosa.registry import MODELS
    torch.set_num_threads(1)
    init_default_scope('mmreviosa')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(CONFIG).model)
    path = str(tmp_path_factory.mktemp('ckpt') / 'tiny.pth')
    save_checkpoint(dict(state_dict=model.state_dict()), path)
    return path


@pytest.fixture(scope='module')
def frames():
    rng = np.random.default_rng(0)
    video = rng.integers(0, 255, (5, 37, 51, 3), dtype=np.uint8)  # odd, non-square size
    video[:, 10:20, 10:20] = (220, 30, 30)
    return video


def _check(prediction, shape):
    assert isinstance(prediction, VideoPrediction)
    assert prediction.actor_masks.shape == shape and prediction.actor_masks.dtype == bool
    if prediction.target_masks is not None:
        assert prediction.target_masks.shape == shape
    assert isinstance(prediction.text, str)


def test_every_video_form_gives_masks_of_the_input_size(checkpoint, frames, tmp_path):
    model = init_model(CONFIG, checkpoint)
    shape = frames.shape[:3]
    from_arrays = inference_video(model, list(frames), 'the red square pushing the blue circle')
    _check(from_arrays, shape)

    folder = tmp_path / 'frames'
    folder.mkdir()
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f'{i:05d}.png'), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    from_folder = inference_video(model, str(folder), 'the red square pushing the blue circle')
    _check(from_folder, shape)
    # PNG is lossless: the same frames give the same answer and masks.
    assert from_folder.text == from_arrays.text, (from_folder.text, from_arrays.text)
    assert np.array_equal(from_folder.actor_masks, from_arrays.actor_masks)

    # H.264 needs even sizes (the writer would pad), so the file gets an even crop.
    even = frames[:, :36, :50]
    video_path = str(tmp_path / 'video.mp4')
    write_video_file(list(even), video_path, fps=5)
    _check(inference_video(model, video_path, 'the red square'), even.shape[:3])


def test_answer_without_target_gives_no_target_masks(checkpoint, frames):
    model = init_model(CONFIG, checkpoint,
                       cfg_options={'model.test_cfg.force_answer': 'Sure, it is [SEG_ACT].'})
    prediction = inference_video(model, list(frames), 'the red square')
    assert prediction.target_masks is None
    assert prediction.actor_masks.shape == frames.shape[:3]
    model = init_model(CONFIG, checkpoint, cfg_options={
        'model.test_cfg.force_answer': 'Sure, it is [SEG_ACT] and [SEG_TAR].'})
    assert inference_video(model, list(frames), 'the red square').target_masks is not None


def test_bad_video_input_is_a_clear_error(checkpoint, tmp_path):
    model = init_model(CONFIG, checkpoint)
    with pytest.raises(FileNotFoundError, match='neither a folder'):
        inference_video(model, str(tmp_path / 'missing'), 'x')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='no image files'):
        inference_video(model, str(tmp_path / 'empty'), 'x')


@pytest.mark.slow
def test_video_demo_writes_an_overlay_gif(checkpoint, frames, tmp_path):
    folder = tmp_path / 'frames'
    folder.mkdir()
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f'{i:05d}.png'), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    out = str(tmp_path / 'demo.gif')
    env = dict(os.environ, MMREVIOSA_NUM_THREADS='1')
    result = subprocess.run([sys.executable, 'demo/video_demo.py', str(folder), 'the red square',
                             CONFIG, checkpoint, '--out', out], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    from PIL import Image
    with Image.open(out) as gif:
        assert gif.n_frames == len(frames)
    assert 'answer:' in result.stdout


@pytest.mark.parametrize('num_frames', [1, 2, 3])
def test_video_shorter_than_the_key_frames_gives_a_mask_per_frame(checkpoint, frames, num_frames):
    """The tiny config reads 4 key frames; 1-3 frame videos use each frame once."""
    model = init_model(CONFIG, checkpoint, cfg_options={
        'model.test_cfg.force_answer': 'Sure, it is [SEG_ACT] and [SEG_TAR].'})
    prediction = inference_video(model, list(frames[:num_frames]), 'the red square')
    _check(prediction, frames[:num_frames].shape[:3])
    assert prediction.target_masks is not None


def test_bad_frames_and_expressions_are_rejected_as_the_dataset_does(checkpoint, frames, tmp_path):
    """The checks of the dataset (mmreviosa.fileio), not a decode that goes on."""
    model = init_model(CONFIG, checkpoint)
    folder = tmp_path / 'truncated'
    folder.mkdir()
    for i, frame in enumerate(frames[:2]):
        cv2.imwrite(str(folder / f'{i:05d}.jpg'), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    data = (folder / '00001.jpg').read_bytes()
    (folder / '00001.jpg').write_bytes(data[:len(data) // 2])  # libjpeg would fill grey
    with pytest.raises(OSError, match=r'00001.jpg is not a complete JPEG'):
        inference_video(model, str(folder), 'the red square')
    for empty in ('', '   '):
        with pytest.raises(ValueError, match=r'expression \("exp"\) must be a non-empty string'):
            inference_video(model, list(frames), empty)
    mixed = [frames[0], frames[1][:30]]
    with pytest.raises(ValueError, match=r'frames have different sizes: frame 0 is \(37, 51\), '
                                         r'frame 1 is \(30, 51\)'):
        inference_video(model, mixed, 'the red square')


def test_expression_longer_than_the_context_is_a_value_error(checkpoint, frames):
    model = init_model(CONFIG, checkpoint)
    with pytest.raises(ValueError, match=r'expression 0: \d+ tokens, more than the 512 '
                                         r'positions of the MLLM'):
        inference_video(model, list(frames), 'the red square pushing the blue box ' * 100)


def test_video_demo_rejects_bad_input_before_building_the_model(frames, tmp_path):
    folder = tmp_path / 'truncated'
    folder.mkdir()
    cv2.imwrite(str(folder / '00000.jpg'), cv2.cvtColor(frames[0], cv2.COLOR_RGB2BGR))
    data = (folder / '00000.jpg').read_bytes()
    (folder / '00000.jpg').write_bytes(data[:len(data) // 2])
    env = dict(os.environ, MMREVIOSA_NUM_THREADS='1')
    result = subprocess.run([sys.executable, 'demo/video_demo.py', str(folder), 'the red square',
                             CONFIG, 'no_checkpoint_needed.pth', '--out',
                             str(tmp_path / 'demo.gif')], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and result.stderr.startswith('error: ')
    assert '00000.jpg is not a complete JPEG' in result.stderr
    assert not (tmp_path / 'demo.gif').exists()
