"""LoadVideoFrames and LoadRoleMasks on hand-written frames and RLEs."""
import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mmreviosa.datasets.transforms.loading import LoadRoleMasks, LoadVideoFrames
from mmreviosa.fileio import decode_masks, decode_rle, read_rgb_image, write_video_file


def _rle(mask, as_string=True):
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    counts = rle['counts'].decode('ascii') if as_string else rle['counts']
    return dict(size=[int(s) for s in rle['size']], counts=counts)


@pytest.fixture
def frames_on_disk(tmp_path):
    """Three 8x10 PNG frames (lossless) with distinct solid colours."""
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    paths = []
    for i, colour in enumerate(colours):
        path = str(tmp_path / f'{i:05d}.png')
        cv2.imwrite(path, np.full((8, 10, 3), colour[::-1], np.uint8))  # written as BGR
        paths.append(path)
    return paths, colours


def test_frames_are_rgb_in_sampled_order_with_repeats(frames_on_disk):
    paths, colours = frames_on_disk
    results = LoadVideoFrames()(dict(frame_inds=[2, 0, 0], frame_paths=paths, video_id='v',
                                     exp_id='0'))
    frames = results['frames']
    assert frames.shape == (3, 8, 10, 3) and frames.dtype == np.uint8
    assert [tuple(f[0, 0]) for f in frames] == [colours[2], colours[0], colours[0]]
    assert results['ori_shape'] == (8, 10)


def test_frames_from_a_video_file(tmp_path):
    frames = np.zeros((5, 16, 16, 3), np.uint8)
    for t in range(5):
        frames[t, :, :, 0] = 40 * t + 20  # red level encodes the frame index
    path = str(tmp_path / 'clip.mp4')
    write_video_file(frames, path, fps=5)
    results = LoadVideoFrames()(dict(frame_inds=[4, 1], frame_paths=None, video_path=path))
    assert results['frames'].shape == (2, 16, 16, 3)
    red = results['frames'][:, 8, 8, 0].astype(int)
    assert abs(red[0] - 180) < 12 and abs(red[1] - 60) < 12


def test_missing_and_corrupt_frames_name_file_video_and_expression(frames_on_disk, tmp_path):
    paths, _ = frames_on_disk
    missing = paths[:2] + [str(tmp_path / 'gone.jpg')]
    with pytest.raises(OSError, match=r'video v7 expression 3: frame 2: .*gone.jpg'):
        LoadVideoFrames()(dict(frame_inds=[2], frame_paths=missing, video_id='v7', exp_id='3'))
    garbage = str(tmp_path / 'bad.jpg')
    with open(garbage, 'wb') as f:
        f.write(b'\xff\xd8 garbage \xff\xd9')
    with pytest.raises(OSError, match=r'video v7 expression 3: frame 0: .*bad.jpg is not a '
                                      r'decodable image'):
        LoadVideoFrames()(dict(frame_inds=[0], frame_paths=[garbage], video_id='v7',
                               exp_id='3'))


def test_frame_size_must_match_the_annotation(frames_on_disk):
    paths, _ = frames_on_disk
    with pytest.raises(ValueError, match=r'frames are \(8, 10\), but the annotation says'):
        LoadVideoFrames()(dict(frame_inds=[0], frame_paths=paths, ori_shape=(8, 11)))


def test_read_rgb_image_rejects_truncated_jpeg(tmp_path):
    path = str(tmp_path / 'x.jpg')
    cv2.imwrite(path, np.random.RandomState(0).randint(0, 255, (32, 32, 3), np.uint8))
    assert read_rgb_image(path).shape == (32, 32, 3)
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:-40])
    with pytest.raises(OSError, match='not a complete JPEG'):
        read_rgb_image(path)


def _mask(shape, y0, y1, x0, x1):
    mask = np.zeros(shape, bool)
    mask[y0:y1, x0:x1] = True
    return mask


def test_role_masks_are_unions_and_null_is_empty():
    shape = (6, 7)
    a_frames = [_mask(shape, 0, 2, 0, 3), None, _mask(shape, 4, 6, 4, 7)]
    b_frames = [_mask(shape, 1, 3, 2, 5), _mask(shape, 0, 1, 0, 1), None]
    t_frames = [None, _mask(shape, 3, 6, 0, 7), None]
    results = LoadRoleMasks()(dict(
        frame_inds=[0, 1, 2, 1], ori_shape=shape, mask_format='rle',
        anno_id=['a', 'b'], target_anno_id=['t'],
        actor_rles=[[None if m is None else _rle(m) for m in a_frames],
                    [None if m is None else _rle(m, as_string=False) for m in b_frames]],
        target_rles=[[None if m is None else _rle(m) for m in t_frames]]))
    empty = np.zeros(shape, bool)

    def union(*masks):
        return np.logical_or.reduce([empty] + [m for m in masks if m is not None])
    expected_actor = np.stack([union(a_frames[t], b_frames[t]) for t in (0, 1, 2, 1)])
    expected_target = np.stack([union(t_frames[t]) for t in (0, 1, 2, 1)])
    assert results['gt_actor_masks'].dtype == bool
    np.testing.assert_array_equal(results['gt_actor_masks'], expected_actor)
    np.testing.assert_array_equal(results['gt_target_masks'], expected_target)


def test_no_target_gives_all_false_target_masks():
    results = LoadRoleMasks()(dict(frame_inds=[0], ori_shape=(4, 4), mask_format='rle',
                                   anno_id=['a'], target_anno_id=[],
                                   actor_rles=[[_rle(_mask((4, 4), 0, 2, 0, 2))]],
                                   target_rles=[]))
    assert results['gt_target_masks'].shape == (1, 4, 4)
    assert not results['gt_target_masks'].any()


def test_rle_size_must_equal_the_frame_size():
    with pytest.raises(ValueError, match=r'video v expression 2: anno id a frame 00001: RLE '
                                         r'size \[4, 5\] differs from the frame size \[4, 6\]'):
        LoadRoleMasks()(dict(video_id='v', exp_id='2', frame_inds=[1], ori_shape=(4, 6),
                             frame_names=['00000', '00001'], mask_format='rle', anno_id=['a'],
                             target_anno_id=[],
                             actor_rles=[[None, _rle(_mask((4, 5), 0, 1, 0, 1))]],
                             target_rles=[]))


def test_uncompressed_rle_is_decoded():
    mask = _mask((5, 4), 1, 4, 1, 3)
    # Column-major run lengths: 5 zeros (col 0), then per column 1 zero, 3 ones, 1 zero ...
    counts = [6, 3, 2, 3, 6]
    np.testing.assert_array_equal(decode_rle(dict(size=[5, 4], counts=counts), (5, 4)), mask)


def test_split_without_masks_is_a_clear_error():
    with pytest.raises(ValueError, match='has no masks'):
        LoadRoleMasks()(dict(frame_inds=[0], ori_shape=(4, 4), mask_format=None))


def test_palette_masks_select_obj_ids(tmp_path):
    from PIL import Image
    ids = np.array([[0, 1, 2], [2, 2, 1]], np.uint8)
    path = str(tmp_path / 'm.png')
    png = Image.fromarray(ids, mode='P')
    png.putpalette([0, 0, 0, 200, 0, 0, 0, 200, 0])  # distinct colours, as DAVIS PNGs have
    png.save(path)
    results = LoadRoleMasks()(dict(frame_inds=[0], ori_shape=(2, 3), mask_format='palette',
                                   mask_paths=[path], obj_id=[2], target_obj_id=[1]))
    np.testing.assert_array_equal(results['gt_actor_masks'][0], ids == 2)
    np.testing.assert_array_equal(results['gt_target_masks'][0], ids == 1)


# A 4 x 5 frame has 20 pixels; COCO run lengths must add up to exactly that.
# '522' reads as runs [5, 2, 2] (9 pixels): pycocotools would fill the other 11 from
# uninitialised memory; [5, 2, 2, 2, 10] is 21 pixels.
SHORT_OR_LONG_RLES = [('522', 9), (b'522', 9), ([5, 2, 2, 2], 11), ([5, 2, 2, 2, 10], 21)]


@pytest.mark.parametrize('counts,covered', SHORT_OR_LONG_RLES)
def test_rle_whose_runs_do_not_cover_its_size_is_rejected(counts, covered):
    with pytest.raises(ValueError, match=rf'runs cover {covered} pixels, the size \[4, 5\] has '
                                         r'20'):
        decode_rle(dict(size=[4, 5], counts=counts), (4, 5))
    with pytest.raises(ValueError, match=rf'video v expression 2: anno id a frame 00000: .*runs '
                                         rf'cover {covered} pixels'):
        LoadRoleMasks()(dict(video_id='v', exp_id='2', frame_inds=[0], ori_shape=(4, 5),
                             frame_names=['00000'], mask_format='rle', anno_id=['a'],
                             target_anno_id=[], actor_rles=[[dict(size=[4, 5], counts=counts)]],
                             target_rles=[]))


def test_every_rle_decoder_rejects_runs_that_do_not_cover_the_size():
    """Per-frame decoding (metric, evaluation, VidOR) and the baselines decode with the checks."""
    from mmreviosa.testing import load_tool
    baselines = load_tool('tools/analysis_tools/baselines.py')
    short = dict(size=[4, 5], counts='522')
    with pytest.raises(ValueError, match='frame 1: RLE runs cover 9 pixels'):
        decode_masks([None, short])
    video = dict(frames=['00000'], objects={'1': dict(anno_id=7)})
    with pytest.raises(ValueError, match='video v anno id 7 frame 00000: .*runs cover 9 pixels'):
        baselines.decode_objects('v', video, {'7': [short]})
