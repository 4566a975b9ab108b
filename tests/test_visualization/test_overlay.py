"""overlay_masks, add_caption, write_gif, write_video."""
import numpy as np
import pytest
from PIL import Image

from mmreviosa.fileio import read_video_frames
from mmreviosa.visualization.overlay import (ACTOR_COLOR, TARGET_COLOR, add_caption,
                                             overlay_masks, write_gif, write_video)


def _scene():
    frames = np.full((2, 20, 24, 3), 100, np.uint8)
    actor = np.zeros((2, 20, 24), bool)
    actor[:, 2:10, 2:10] = True
    target = np.zeros((2, 20, 24), bool)
    target[:, 12:18, 14:22] = True
    return frames, actor, target


def test_overlay_blends_inside_draws_borders_and_keeps_outside():
    frames, actor, target = _scene()
    out = overlay_masks(frames, actor, target, alpha=0.5)
    assert out.shape == frames.shape and out.dtype == np.uint8
    # Interior: round(0.5 * 100 + 0.5 * colour) per channel.
    assert tuple(out[0, 5, 5]) == (178, 50, 50)      # red (255, 0, 0) over grey 100
    assert tuple(out[1, 15, 18]) == (50, 50, 178)    # blue (0, 0, 255)
    # Border pixels of each mask take the full colour.
    assert tuple(out[0, 2, 5]) == ACTOR_COLOR and tuple(out[0, 17, 18]) == TARGET_COLOR
    # Outside both masks nothing changes.
    outside = ~(actor | target)
    np.testing.assert_array_equal(out[outside], frames[outside])
    np.testing.assert_array_equal(frames, np.full_like(frames, 100))  # input untouched


def test_overlay_without_target_and_alpha_zero():
    frames, actor, _ = _scene()
    out = overlay_masks(frames, actor, None, alpha=0.0)
    interior = np.zeros_like(actor)
    interior[:, 3:9, 3:9] = True
    np.testing.assert_array_equal(out[interior], frames[interior])


def test_overlay_rejects_mismatched_masks():
    frames, actor, _ = _scene()
    with pytest.raises(ValueError, match='masks must be'):
        overlay_masks(frames, actor[:, :10])


def test_caption_adds_a_band_above_the_frames():
    frames, _, _ = _scene()
    out = add_caption(frames, 'the red square pushing the blue box')
    assert out.shape[0] == 2 and out.shape[2:] == (24, 3) and out.shape[1] > 20
    band = out[:, :out.shape[1] - 20]
    assert band.max() > 0  # some text pixels
    np.testing.assert_array_equal(out[:, -20:], frames)


def test_write_gif_round_trip(tmp_path):
    frames, actor, target = _scene()
    frames[1] = 30
    out = overlay_masks(frames, actor, target)
    path = write_gif(out, str(tmp_path / 'sub' / 'x.gif'), fps=4, caption='hello')
    with Image.open(path) as gif:
        assert gif.n_frames == 2 and gif.info['duration'] == 250
        gif.seek(0)
        first = np.asarray(gif.convert('RGB'))
    assert first.shape[0] > 20 and first.shape[1] == 24
    # The frame sits under the caption; the actor interior stays reddish.
    r, g, b = first[-20 + 5, 5].astype(int)
    assert r > 150 and g < 80 and b < 80


def test_write_video_round_trip(tmp_path):
    frames, actor, _ = _scene()
    out = overlay_masks(frames, actor, None)
    path = write_video(out, str(tmp_path / 'x.mp4'), fps=5)
    decoded = read_video_frames(path)
    assert decoded.shape == (2, 20, 24, 3)
    assert np.abs(decoded[0, 5, 5].astype(int) - (178, 50, 50)).max() < 25
