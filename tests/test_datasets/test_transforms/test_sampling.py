"""SampleFrames: training and test frame choice, key frames."""
import numpy as np
import pytest

from mmreviosa.datasets.transforms.sampling import SampleFrames, uniform_indices


def _sample(transform, num_video_frames):
    return transform(dict(num_video_frames=num_video_frames, video_id='v', exp_id='0'))


def test_train_draws_distinct_sorted_frames_covering_the_video():
    np.random.seed(0)
    transform = SampleFrames(num_frames=4, mode='train')
    seen = set()
    for _ in range(200):
        results = _sample(transform, 10)
        inds = results['frame_inds']
        assert len(inds) == 4 and len(set(inds)) == 4 and inds == sorted(inds)
        assert all(0 <= i < 10 for i in inds)
        assert results['key_frame_inds'] == [0, 1, 2, 3]
        seen.update(inds)
    assert seen == set(range(10))  # random, not a fixed subset


def test_train_on_a_short_video_uses_every_frame_then_repeats():
    np.random.seed(1)
    for _ in range(20):
        inds = _sample(SampleFrames(num_frames=5, mode='train'), 3)['frame_inds']
        assert len(inds) == 5 and set(inds) == {0, 1, 2} and inds == sorted(inds)


def test_train_key_frame_subset_is_uniform_over_the_sampled_frames():
    results = _sample(SampleFrames(num_frames=8, mode='train', num_key_frames=2), 20)
    # Segment centres of 8 items in 2 segments: floor(0.5*8/2)=2, floor(1.5*8/2)=6.
    assert results['key_frame_inds'] == [2, 6]


def test_test_mode_uses_all_frames_and_uniform_key_frames():
    results = _sample(SampleFrames(mode='test', num_key_frames=4), 10)
    assert results['frame_inds'] == list(range(10))
    # floor((i + 0.5) * 10 / 4) for i = 0..3 -> 1.25, 3.75, 6.25, 8.75
    assert results['key_frame_inds'] == [1, 3, 6, 8]
    # Default: 5 key frames.
    assert len(_sample(SampleFrames(mode='test'), 10)['key_frame_inds']) == 5


@pytest.mark.parametrize('num_video_frames', [1, 2, 3])
def test_test_mode_video_shorter_than_the_key_frames_uses_each_frame_once(num_video_frames):
    """T < K: the T frames are the key frames (K' = T, distinct: SAM2 prompts each once)."""
    results = _sample(SampleFrames(mode='test', num_key_frames=4), num_video_frames)
    assert results['frame_inds'] == list(range(num_video_frames))
    assert results['key_frame_inds'] == list(range(num_video_frames))


def test_uniform_indices_are_distinct_when_possible():
    for n in range(1, 30):
        for k in range(1, n + 1):
            inds = uniform_indices(n, k)
            assert len(set(inds)) == k and inds == sorted(inds) and inds[-1] < n


@pytest.mark.parametrize('kwargs', [dict(mode='val'), dict(num_frames=0),
                                    dict(num_frames=2, num_key_frames=3)])
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        SampleFrames(**kwargs)
