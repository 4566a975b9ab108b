"""Tests of the InterShapes generator: determinism, format, and that motion tells the roles."""
import filecmp
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from mmreviosa.builders.intershapes import (COLORS, SHAPES, SIZES, VOCABULARY, generate_intershapes,
                                            generate_split, parse_expression, split_sizes)

FRAME_SIZE = 64
NUM_FRAMES = 8


def _load(split_dir):
    with open(osp.join(split_dir, 'meta_expressions.json')) as f:
        videos = json.load(f)['videos']
    with open(osp.join(split_dir, 'mask_dict.json')) as f:
        masks = json.load(f)
    return videos, masks


def _decode(rles):
    """(T, H, W) bool from a mask_dict entry; null frames are empty."""
    return np.stack([np.zeros((FRAME_SIZE, FRAME_SIZE), bool) if r is None
                     else mask_utils.decode(r).astype(bool) for r in rles])


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    """20 training videos (and 2 valid, 2 test) with the default settings."""
    root = str(tmp_path_factory.mktemp('intershapes'))
    generate_intershapes(root, 20, seed=7, progress=False)
    return root


@pytest.fixture(scope='module')
def big_split(tmp_path_factory):
    """120 videos: enough to measure shares and to meet every interaction type."""
    root = str(tmp_path_factory.mktemp('intershapes_big'))
    generate_split(root, 'train', 120, seed=11, progress=False)
    return _load(osp.join(root, 'train'))


def test_split_sizes_give_held_out_tenth():
    assert split_sizes(1000) == {'train': 1000, 'valid': 100, 'test': 100}
    assert split_sizes(3) == {'train': 3, 'valid': 1, 'test': 1}
    with pytest.raises(ValueError):
        split_sizes(0)


def test_same_seed_gives_identical_files_whatever_the_workers(tmp_path):
    generate_intershapes(str(tmp_path / 'a'), 4, seed=5, progress=False)
    generate_intershapes(str(tmp_path / 'b'), 4, seed=5, workers=2, progress=False)
    for split in ('train', 'valid', 'test'):
        for name in ('meta_expressions.json', 'mask_dict.json'):
            a, b = tmp_path / 'a' / split / name, tmp_path / 'b' / split / name
            assert a.read_bytes() == b.read_bytes(), f'{split}/{name} differs'
        frames_a = tmp_path / 'a' / split / 'JPEGImages'
        cmp = filecmp.dircmp(frames_a, tmp_path / 'b' / split / 'JPEGImages')
        assert not cmp.left_only and not cmp.right_only
        for video_id in cmp.common_dirs:
            names = os.listdir(frames_a / video_id)
            match, mismatch, errors = filecmp.cmpfiles(
                frames_a / video_id, tmp_path / 'b' / split / 'JPEGImages' / video_id, names,
                shallow=False)
            assert not mismatch and not errors
    generate_split(str(tmp_path / 'c'), 'train', 4, seed=6, progress=False)
    assert ((tmp_path / 'c/train/mask_dict.json').read_bytes()
            != (tmp_path / 'a/train/mask_dict.json').read_bytes())


def test_splits_share_no_video(dataset):
    ids, contents = set(), set()
    for split in ('train', 'valid', 'test'):
        videos, masks = _load(osp.join(dataset, split))
        assert not ids & set(videos)
        ids |= set(videos)
        for video in videos.values():
            signature = json.dumps([masks[str(o['anno_id'])] for o in video['objects'].values()])
            assert signature not in contents
            contents.add(signature)


def test_format_follows_the_interrvos_contract(dataset):
    for split, num_videos in split_sizes(20).items():
        split_dir = osp.join(dataset, split)
        videos, masks = _load(split_dir)
        assert len(videos) == num_videos
        for video_id, video in videos.items():
            assert video['frames'] == [f'{t:05d}' for t in range(NUM_FRAMES)]
            for name in video['frames']:
                image = cv2.imread(osp.join(split_dir, 'JPEGImages', video_id, f'{name}.jpg'))
                assert image.shape == (FRAME_SIZE, FRAME_SIZE, 3)
            anno_of = {int(k): o['anno_id'] for k, o in video['objects'].items()}
            for anno_id in anno_of.values():
                rles = masks[str(anno_id)]
                assert len(rles) == NUM_FRAMES
                assert any(r is not None for r in rles)
                for rle in rles:
                    if rle is not None:
                        assert rle['size'] == [FRAME_SIZE, FRAME_SIZE]
                        assert isinstance(rle['counts'], str)
            exps = video['expressions']
            assert 5 <= len(exps)
            for exp_id, exp in exps.items():
                assert exp['anno_id'] == [anno_of[i] for i in exp['obj_id']]
                assert exp['target_anno_id'] == [anno_of[i] for i in exp['target_obj_id']]
                assert all(str(a) in masks for a in exp['anno_id'] + exp['target_anno_id'])
                if exp['target_obj_id']:
                    pair = exps[exp['pair_exp_id']]
                    assert pair['pair_exp_id'] == exp_id
                    assert pair['obj_id'] == exp['target_obj_id']
                    assert pair['target_obj_id'] == exp['obj_id']
                    assert pair['interaction'] == exp['interaction']
                    assert {pair['voice'], exp['voice']} == {'active', 'passive'}
                    assert not set(exp['obj_id']) & set(exp['target_obj_id'])
                else:
                    assert exp['target_anno_id'] == [] and exp['pair_exp_id'] is None
                    assert exp['interaction'] is None


def test_masks_are_disjoint_visible_regions_of_the_named_colour(dataset):
    videos, masks = _load(osp.join(dataset, 'train'))
    for video_id, video in list(videos.items())[:6]:
        decoded = {k: _decode(masks[str(o['anno_id'])]) for k, o in video['objects'].items()}
        coverage = sum(m.astype(int) for m in decoded.values())
        assert coverage.max() == 1, f'{video_id}: visible masks overlap'
        for t, name in enumerate(video['frames']):
            rgb = cv2.imread(osp.join(dataset, 'train', 'JPEGImages', video_id,
                                      f'{name}.jpg'))[..., ::-1].astype(float)
            for obj_id, obj in video['objects'].items():
                inner = cv2.erode(decoded[obj_id][t].astype(np.uint8), np.ones((3, 3))) > 0
                if inner.sum() < 4:
                    continue
                mean = rgb[inner].mean(0)
                nearest = min(COLORS, key=lambda c: np.linalg.norm(mean - COLORS[c]))
                assert nearest == obj['color'], f'{video_id} frame {name} object {obj_id}'


def test_every_word_is_in_the_vocabulary(big_split):
    videos, _ = big_split
    assert set(COLORS) | set(SHAPES) | set(SIZES) <= VOCABULARY
    for video in videos.values():
        for exp in video['expressions'].values():
            assert set(exp['exp'].split()) <= VOCABULARY, exp['exp']


def test_words_are_true_of_the_referents(big_split):
    """Parsed noun phrases match stored descriptions and the referents' looks."""
    videos, _ = big_split
    for video in videos.values():
        for exp in video['expressions'].values():
            actor_desc, target_desc = parse_expression(exp['exp'])
            assert actor_desc == exp['actor_desc']
            assert target_desc == exp['target_desc']
            for desc, ids in ((actor_desc, exp['obj_id']), (target_desc, exp['target_obj_id'])):
                for obj_id in ids:
                    obj = video['objects'][str(obj_id)]
                    assert all(obj[k] == v for k, v in desc.items() if v), exp['exp']


def _centroids(mask_seq):
    return np.array([np.argwhere(m)[:, ::-1].mean(0) if m.any() else [np.nan, np.nan]
                     for m in mask_seq])


def _toward(mover, other):
    """Sum over steps of the mover's velocity projected onto the direction to ``other``."""
    step = np.diff(mover, axis=0)
    offset = other[:-1] - mover[:-1]
    unit = offset / np.linalg.norm(offset, axis=1, keepdims=True)
    return float(np.nansum((step * unit).sum(1)))


def test_motion_tells_actor_from_target(big_split):
    videos, masks = big_split
    seen = set()
    for video_id, video in videos.items():
        for exp in video['expressions'].values():
            if exp['voice'] != 'active':
                continue
            verb = exp['interaction']
            seen.add(verb)
            actor = _centroids(_decode(masks[str(exp['anno_id'][0])]))
            target = _centroids(_decode(masks[str(exp['target_anno_id'][0])]))
            actor_toward, target_toward = _toward(actor, target), _toward(target, actor)
            target_path = np.nansum(np.linalg.norm(np.diff(target, axis=0), axis=1))
            actor_path = np.nansum(np.linalg.norm(np.diff(actor, axis=0), axis=1))
            where = f'{video_id}: {exp["exp"]}'
            if verb in ('pushing', 'hitting', 'chasing', 'following', 'approaching'):
                assert actor_toward > 2 and actor_toward > target_toward + 2, where
            elif verb == 'leaving':
                assert actor_toward < -5 and target_path < 2, where
            else:  # circling: the actor goes round a still target at a steady distance
                gap = np.linalg.norm(actor - target, axis=1)
                assert actor_path > 10 and target_path < 2, where
                assert np.nanstd(gap) < 0.25 * np.nanmean(gap), where
    assert seen == {'pushing', 'hitting', 'chasing', 'following', 'approaching', 'circling',
                    'leaving'}


def test_appearance_alone_is_ambiguous_for_a_share_of_interactions(big_split):
    """An oracle of the named looks is wrong on about half the interaction expressions."""
    videos, _ = big_split
    ambiguous, total, twins = 0, 0, 0
    for video in videos.values():
        objects = video['objects']

        def looks_like(desc):
            return sorted(int(k) for k, o in objects.items()
                          if all(o[a] == v for a, v in desc.items() if v))
        for exp in video['expressions'].values():
            if not exp['target_obj_id']:
                continue
            total += 1
            ambiguous += (looks_like(exp['actor_desc']) != exp['obj_id']
                          or looks_like(exp['target_desc']) != exp['target_obj_id'])
            actor = objects[str(exp['obj_id'][0])]
            twins += any(k != str(exp['obj_id'][0]) and all(o[a] == actor[a] for a in
                                                            ('color', 'shape', 'size'))
                         for k, o in objects.items())
    assert total > 100
    # Documented: about 60% (module docstring); at least one in three needs the motion.
    assert 0.35 < ambiguous / total < 0.75
    assert twins / total > 0.2


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match='num_frames'):
        generate_split(str(tmp_path), 'train', 1, seed=0, num_frames=2, progress=False)
    with pytest.raises(KeyError, match='split'):
        generate_split(str(tmp_path), 'val', 1, seed=0, progress=False)
    with pytest.raises(ValueError, match='shape phrases'):
        parse_expression('the thing moving left')
