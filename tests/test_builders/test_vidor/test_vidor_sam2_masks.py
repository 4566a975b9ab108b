"""Stage 1 with SAM2: prompting, box limits and fallbacks (a recording fake
predictor), and the real sam2 video predictor with tiny random weights."""
import json
import os.path as osp

import numpy as np
import pytest
import torch

from mmreviosa.builders.vidor import ConvertOptions, SAM2MaskTracker, convert
from mmreviosa.fileio import decode_rle
from vidor_sample_data import FRAME_COUNT, HEIGHT, SAMPLE, WIDTH, box_at

# Hydra overrides that shrink SAM2.1-tiny to ~0.65 M random parameters at 128 px.
TINY_SAM2 = [
    '++model.image_size=128',
    '++model.image_encoder.trunk.embed_dim=8',
    '++model.image_encoder.trunk.stages=[1,1,2,1]',
    '++model.image_encoder.trunk.global_att_blocks=[3]',
    '++model.image_encoder.trunk.window_pos_embed_bkg_spatial_size=[2,2]',
    '++model.image_encoder.neck.backbone_channel_list=[64,32,16,8]',
    '++model.image_encoder.neck.d_model=32',
    '++model.image_encoder.neck.position_encoding.num_pos_feats=32',
    '++model.memory_attention.d_model=32',
    '++model.memory_attention.num_layers=1',
    '++model.memory_attention.layer.d_model=32',
    '++model.memory_attention.layer.dim_feedforward=32',
    '++model.memory_attention.layer.self_attention.embedding_dim=32',
    '++model.memory_attention.layer.self_attention.feat_sizes=[8,8]',
    '++model.memory_attention.layer.cross_attention.embedding_dim=32',
    '++model.memory_attention.layer.cross_attention.feat_sizes=[8,8]',
    '++model.memory_attention.layer.cross_attention.kv_in_dim=16',
    '++model.memory_encoder.in_dim=32',
    '++model.memory_encoder.out_dim=16',
    '++model.memory_encoder.position_encoding.num_pos_feats=16',
    '++model.memory_encoder.mask_downsampler.embed_dim=32',
    '++model.memory_encoder.fuser.layer.dim=32',
    '++model.memory_encoder.fuser.num_layers=1',
    '++model.num_maskmem=2',
]


class FakePredictor:
    """Records box prompts; predicts the full frame for tid 0, nothing for tid 1."""

    def __init__(self, num_frames):
        self.num_frames = num_frames
        self.prompts = []

    def init_state(self, frame_dir):
        return {'num_frames': self.num_frames}

    def add_new_points_or_box(self, state, frame_idx, obj_id, box):
        self.prompts.append((obj_id, frame_idx, tuple(box)))

    def propagate_in_video(self, state):
        obj_ids = sorted({p[0] for p in self.prompts})
        for index in range(min(p[1] for p in self.prompts), self.num_frames):
            logits = torch.full((len(obj_ids), 1, HEIGHT, WIDTH), -5.0)
            logits[obj_ids.index(0)] = 5.0
            yield index, obj_ids, logits

    def reset_state(self, state):
        pass


def grown_region(box, margin):
    """Pixels of ``box`` grown by ``margin`` of its size per side (by slicing)."""
    gx, gy = margin * (box[2] - box[0]), margin * (box[3] - box[1])
    mask = np.zeros((HEIGHT, WIDTH), bool)
    mask[max(0, int(np.floor(box[1] - gy))):int(np.ceil(box[3] + gy)),
         max(0, int(np.floor(box[0] - gx))):int(np.ceil(box[2] + gx))] = True
    return mask


@pytest.mark.parametrize('prompt_every', [1, 3])
def test_sam2_tracker_prompts_limits_and_falls_back(prompt_every):
    boxes = {0: [(10, 10, 50, 40), None, (20, 10, 60, 40), (30, 10, 70, 40), (40, 10, 80, 40)],
             1: [None, (100, 50, 120, 90), (100, 50, 120, 90), None, None]}
    tracker = SAM2MaskTracker('unused.yaml', None, prompt_every=prompt_every, box_margin=0.1)
    tracker._predictor = FakePredictor(num_frames=5)
    rles, fallbacks = tracker.track('unused', boxes, HEIGHT, WIDTH)
    # Prompts: the first frame with a box, then every prompt_every-th one with a box.
    expected = [(tid, i, boxes[tid][i]) for tid in (0, 1)
                for i in [i for i, b in enumerate(boxes[tid]) if b][::prompt_every]]
    assert tracker._predictor.prompts == expected
    for index, box in enumerate(boxes[0]):
        if box is None:
            assert rles[0][index] is None  # no VidOR box: no mask
        else:  # a full-frame prediction is cut to the grown box
            assert np.array_equal(decode_rle(rles[0][index]), grown_region(box, 0.1))
    for index, box in enumerate(boxes[1]):
        if box is not None:  # an empty prediction falls back to the box
            assert np.array_equal(decode_rle(rles[1][index]), grown_region(box, 0.0))
    assert fallbacks == {0: 0, 1: 2}


def test_tiny_random_sam2_through_the_pipeline(vidor_root, tmp_path):
    torch.manual_seed(0)
    out = str(tmp_path / 'out')
    options = ConvertOptions(vidor_root, 'training', out, mask_source='sam2',
                             sam2_config='configs/sam2.1/sam2.1_hiera_t.yaml',
                             sam2_random_init=True, sam2_overrides=TINY_SAM2, device='cpu',
                             video_ids=['1001'])
    stats = convert(options, print_table=False)
    assert stats['videos']['converted'] == 1
    with open(osp.join(out, '_work', '1001', 'stage1.json')) as file:
        stage1 = json.load(file)
    assert stage1['params']['mask_source'] == 'sam2'
    assert stage1['params']['overrides'] == TINY_SAM2
    frames = range(0, FRAME_COUNT, 5)
    for obj in SAMPLE['1001'][1]:
        track = stage1['tracks'][str(obj['tid'])]
        for fid, rle in zip(frames, track['masks']):
            box = box_at(obj, fid)
            mask = decode_rle(rle)
            # Random weights: only the plumbing holds: a non-empty mask of the
            # frame size inside the box grown by the 10% margin.
            assert mask.shape == (HEIGHT, WIDTH) and mask.any()
            assert not (mask & ~grown_region(box, 0.1)).any()
    assert stats['masks']['coverage'] == 1.0
