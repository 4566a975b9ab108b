"""The ReVIOSa segmentor on a tiny random model and generated InterShapes items."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from mmreviosa.models.training_aids import attention_points
from mmreviosa.registry import DATASETS, MODELS
from mmreviosa.testing import info_nce_by_loop
from mmreviosa.testing.tiny import intershapes_batch, with_real_recipe_freezing

CONFIG = osp.join(osp.dirname(__file__), '..', '..', '..', 'configs', 'reviosa',
                  'reviosa_tiny_intershapes.py')


@pytest.fixture(scope='module')
def points_cfg(cfg):
    """The tiny model with attention point prompts (and the GT-point decode)."""
    return Config.fromfile(CONFIG.replace('.py', '_points.py'))


def test_loss_has_separate_keys_and_gradients_reach_only_trained_parts(cfg, split_root):
    torch.manual_seed(0)
    model = MODELS.build(with_real_recipe_freezing(cfg.model))
    model.train()
    data = model.data_preprocessor(intershapes_batch(cfg, split_root), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_actor_mask', 'loss_actor_dice', 'loss_target_mask',
                           'loss_target_dice', 'loss_lm', 'loss_aml', 'loss_visual_actor_mask',
                           'loss_visual_actor_dice', 'loss_visual_target_mask',
                           'loss_visual_target_dice', 'loss_visual_align'}
    assert all(torch.isfinite(v) and v.dim() == 0 for v in losses.values())
    sum(losses.values()).backward()

    def grads(prefix_filter):
        return {n: p.grad for n, p in model.named_parameters() if prefix_filter(n)}

    lora = grads(lambda n: 'lora_' in n)
    assert lora and any(g is not None and g.abs().sum() > 0 for g in lora.values())
    assert all(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.projector.parameters())
    decoder = grads(lambda n: 'sam_mask_decoder' in n)
    assert any(g is not None and g.abs().sum() > 0 for g in decoder.values())
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert any('vision_tower' in n for n in frozen)
    assert any('image_encoder' in n for n in frozen)
    assert all(p.grad is None for p in model.parameters() if not p.requires_grad)


def test_target_loss_of_non_interaction_item_is_weighted_out(cfg, split_root):
    """The target loss only counts the interaction item: a non-interaction batch gives 0."""
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    data = model.data_preprocessor(intershapes_batch(cfg, split_root, which=('without', )), True)
    losses = model(**data, mode='loss')
    assert losses['loss_target_mask'].item() == 0 and losses['loss_target_dice'].item() == 0
    assert losses['loss_actor_mask'].item() > 0


def test_predict_masks_follow_the_answer(cfg, split_root):
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    batch = intershapes_batch(cfg, split_root, train=False)
    shapes = [tuple(s.ori_shape) for s in batch['data_samples']]
    frames = [len(s.frame_names) for s in batch['data_samples']]

    model.test_cfg['force_answer'] = 'Sure, it is [SEG_ACT] and [SEG_TAR].<|im_end|>'
    out = model(**model.data_preprocessor(copy.deepcopy(batch), False), mode='predict')
    for sample, shape, t in zip(out, shapes, frames):
        assert sample.pred_actor_masks.shape == (t, *shape)
        assert sample.pred_actor_masks.dtype == torch.bool
        assert sample.pred_target_masks.shape == (t, *shape)
        assert '[SEG_TAR]' in sample.pred_text

    model.test_cfg['force_answer'] = 'Sure, it is [SEG_ACT].<|im_end|>'
    out = model(**model.data_preprocessor(copy.deepcopy(batch), False), mode='predict')
    for sample, shape, t in zip(out, shapes, frames):
        assert sample.pred_actor_masks.shape == (t, *shape)
        assert sample.pred_target_masks is None

    # Generation (random weights): whatever is generated, masks follow its role tokens.
    model.test_cfg['force_answer'] = None
    out = model(**model.data_preprocessor(copy.deepcopy(batch), False), mode='predict')
    for sample in out:
        assert (sample.pred_target_masks is not None) == ('[SEG_TAR]' in sample.pred_text)


@pytest.mark.parametrize('trained_only', [False, True])
def test_save_then_load_gives_identical_predictions(cfg, split_root, tmp_path, trained_only):
    from mmengine.runner import load_checkpoint, save_checkpoint
    torch.manual_seed(0)
    model_cfg = with_real_recipe_freezing(cfg.model)
    # trained_only: what configs with pretrained weights do (frozen parts left out).
    model_cfg.mllm.save_trained_only = trained_only
    model_cfg.sam2_head.save_trained_only = trained_only
    model = MODELS.build(model_cfg).eval()
    # Perturb the trained parts so that a fresh build differs from the saved model.
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn_like(p))
    model.test_cfg['force_answer'] = 'Sure, it is [SEG_ACT] and [SEG_TAR].<|im_end|>'
    batch = intershapes_batch(cfg, split_root, train=False)
    expected = model(**model.data_preprocessor(copy.deepcopy(batch), False), mode='predict')
    path = str(tmp_path / 'ckpt.pth')
    state = model.state_dict()
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert (frozen & set(state) == set()) == trained_only
    assert {n for n, p in model.named_parameters() if p.requires_grad} <= set(state)
    save_checkpoint(state, path)

    torch.manual_seed(0)  # same random frozen weights, different trained ones
    restored = MODELS.build(model_cfg).eval()
    restored.test_cfg['force_answer'] = model.test_cfg['force_answer']
    load_checkpoint(restored, path, map_location='cpu', strict=True)
    got = restored(**restored.data_preprocessor(copy.deepcopy(batch), False), mode='predict')
    for a, b in zip(expected, got):
        assert torch.equal(a.pred_actor_masks, b.pred_actor_masks)
        assert torch.equal(a.pred_target_masks, b.pred_target_masks)


def test_gt_point_losses_scale_with_their_weight_only(points_cfg, split_root):
    """loss_gtpoint_* (the decode from GT centroids) scale with GTPointMaskLoss's loss_weight;
    nothing else changes."""
    torch.manual_seed(0)
    model = MODELS.build(points_cfg.model).eval()
    data = model.data_preprocessor(intershapes_batch(points_cfg, split_root), True)
    gt_point_loss, = model.aux_losses
    with torch.no_grad():
        gt_point_loss.loss_weight = 1.0
        once = model(**data, mode='loss')
        gt_point_loss.loss_weight = 2.5
        scaled = model(**data, mode='loss')
    for key, value in once.items():
        factor = 2.5 if 'gtpoint' in key else 1.0
        assert torch.allclose(scaled[key], value * factor, rtol=1e-5, atol=1e-7), key
    assert once['loss_gtpoint_actor_mask'] > 0


def test_attention_points_are_where_the_role_token_looks(points_cfg, split_root):
    model = MODELS.build(points_cfg.model)
    data = model.data_preprocessor(intershapes_batch(points_cfg, split_root), True)
    input_ids = data['inputs']['input_ids']
    batch, length = input_ids.shape
    image = input_ids == model.mllm.image_token_id
    num_key = int(image[0].sum()) // model.mllm.num_image_tokens  # 4 frames of 4 x 4 patches
    attention = torch.zeros(batch, 1, 1, 2, length)
    attention[..., 0] = 1.0  # most mass on a text token: only the visual share counts
    for b in range(batch):
        visual = image[b].nonzero().flatten().view(num_key, 4, 4)
        for k in range(num_key):
            attention[b, 0, 0, 0, visual[k, k % 4, 1]] = 0.1    # actor: row k % 4, column 1
            attention[b, 0, 0, 1, visual[k, 3, 3]] = 0.05       # target: bottom-right
            attention[b, 0, 0, 1, visual[k, 0, 0]] = 0.05       # ... and top-left
    points = attention_points(attention, input_ids, model.mllm.image_token_id,
                              model.mllm.num_image_tokens, num_key)
    assert points.shape == (batch, 2, num_key, 2)
    for k in range(num_key):
        assert torch.allclose(points[:, 0, k], torch.tensor([1.5 / 4, (k % 4 + 0.5) / 4]))
    assert torch.allclose(points[:, 1], torch.full_like(points[:, 1], 0.5))


def test_point_plugins_train_the_point_embedding_and_need_captured_attention(cfg, points_cfg):
    point_embedding = 'sam2_head.sam2.sam_prompt_encoder.point_embeddings.1.weight'
    trained = {n for n, p in MODELS.build(points_cfg.model).named_parameters() if p.requires_grad}
    assert point_embedding in trained
    trained = {n for n, p in MODELS.build(cfg.model).named_parameters() if p.requires_grad}
    assert point_embedding not in trained
    # the GT-point decode alone also trains it
    model_cfg = copy.deepcopy(points_cfg.model)
    model_cfg.point_prompter = None
    model = MODELS.build(model_cfg)
    assert model.sam2_head.sam2.sam_prompt_encoder.point_embeddings[1].weight.requires_grad
    model_cfg = copy.deepcopy(points_cfg.model)
    model_cfg.update(loss_aml=None, aml_layers=None)
    with pytest.raises(ValueError, match='aml_layers'):
        MODELS.build(model_cfg)


def test_predict_prompts_each_key_frame_at_its_own_attention_point(points_cfg, split_root):
    torch.manual_seed(0)
    model = MODELS.build(points_cfg.model).eval()
    batch = model.data_preprocessor(intershapes_batch(points_cfg, split_root, train=False), False)
    seen = []
    original = model.sam2_head.predict_video

    def spy(sam_pixels, key_frame_inds, prompts, *args, **kwargs):
        seen.append(prompts)
        return original(sam_pixels, key_frame_inds, prompts, *args, **kwargs)

    model.sam2_head.predict_video = spy
    model.test_cfg['force_answer'] = 'Sure, it is [SEG_ACT].<|im_end|>'
    model.predict(batch['inputs'], batch['data_samples'])
    assert seen
    for prompts in seen:
        # one prompt per key frame: the role's semantic prompt plus a point that differs
        # from frame to frame with the attention
        assert prompts.shape[0] == len(batch['data_samples'][0].key_frame_inds)
        assert not torch.allclose(prompts[0], prompts[1])


def test_point_prompts_without_the_aml_read_unsupervised_attention(points_cfg, split_root):
    model_cfg = copy.deepcopy(points_cfg.model)
    model_cfg.update(loss_aml=None)  # aml_layers stay: the points are read there
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    data = model.data_preprocessor(intershapes_batch(points_cfg, split_root), True)
    losses = model(**data, mode='loss')
    assert 'loss_aml' not in losses and 'loss_gtpoint_actor_mask' in losses
    losses['loss_actor_mask'].backward()
    # the main decode (not only the GT-point one) is prompted with a point
    point_embedding = model.sam2_head.sam2.sam_prompt_encoder.point_embeddings[1].weight
    assert point_embedding.grad is not None and point_embedding.grad.abs().sum() > 0


@pytest.mark.parametrize('align', ['mse', 'contrastive'])
def test_visual_prompt_losses_by_hand_and_their_gradients(cfg, split_root, align):
    """loss_visual_align compares each supervised role prompt, on every frame, with its
    referent's pooled SAM2 embedding, which it does not move: by their mean squared distance,
    or by InfoNCE among all referents of the batch (not the same referent on its other
    frames); loss_visual_* decode from that embedding."""
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.aux_losses = [  # the config has weights 1, 1 and temperature 0.1
        dict(type='VisualPromptMaskLoss', loss_weight=1.0),
        dict(type='VisualPromptAlignLoss', mode=align, temperature=0.2, loss_weight=2.0)]
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.train()
    data = model.data_preprocessor(intershapes_batch(cfg, split_root), True)
    losses = model(**data, mode='loss')
    assert {'loss_visual_actor_mask', 'loss_visual_actor_dice', 'loss_visual_target_mask',
            'loss_visual_target_dice', 'loss_visual_align'} <= set(losses)

    # by hand, sample by sample and frame by frame
    inputs, samples = data['inputs'], data['data_samples']
    with torch.no_grad():
        prompts = model(inputs, samples, mode='tensor').role_prompts  # (B, R, C)
        emb = model.sam2_head.extract_features(inputs['sam_pixels']).image_embeddings
    size = inputs['sam_pixels'].shape[-1]
    entries, frame = [], 0
    for b, sample in enumerate(samples):
        roles = [sample.gt_actor_masks] + ([sample.gt_target_masks]
                                           if sample.has_interaction else [])
        for t in range(len(sample.frame_inds)):
            for r, masks in enumerate(roles):
                mask = torch.nn.functional.interpolate(masks[t][None, None].float(),
                                                       size=(size, size), mode='bilinear')
                if mask.max() <= 0.5:
                    continue
                cells = torch.nn.functional.interpolate(mask, size=emb.shape[-2:], mode='area')
                vector = (emb[frame] * cells[0]).sum((1, 2)) / cells.sum()
                vector = (vector - vector.mean()) / (vector.var(unbiased=False) + 1e-5).sqrt()
                entries.append((prompts[b, r].double(), vector.double(), (b, r)))
            frame += 1
    assert len({group for _, _, group in entries}) >= 3  # negatives for every query
    if align == 'mse':
        expected = 2.0 * torch.stack([(q - k).pow(2).mean() for q, k, _ in entries]).mean()
    else:
        queries, keys, groups = zip(*entries)
        expected = torch.tensor(2.0 * info_nce_by_loop(queries, keys, groups, 0.2),
                                dtype=torch.float64)
    assert torch.allclose(losses['loss_visual_align'].double(), expected, rtol=1e-4)

    # the align loss trains the prompt side only; the visual decode trains SAM2
    model.zero_grad()
    losses['loss_visual_align'].backward(retain_graph=True)
    assert model.projector.layers[0].weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.sam2_head.parameters())
    model.zero_grad()
    losses['loss_visual_actor_dice'].backward()
    assert model.sam2_head.sam2.image_encoder.stem[0].weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.projector.parameters())


def _short_videos_split(root):
    """A split whose videos have 1, 2 and 3 frames (fewer than the config's 4 key frames)."""
    import sys
    sys.path.insert(0, osp.join(osp.dirname(__file__), '..', '..', 'data'))
    from interrvos_fixtures import write_split
    spec = {f'short{t}': dict(size=(24, 32),
                              boxes={f'{t}0': [(2, 10, 3 + 2 * i, 11 + 2 * i) for i in range(t)]},
                              colors={f'{t}0': (220, 30, 30)},
                              expressions={'0': dict(exp='the red square moving right',
                                                     obj_id=[1], anno_id=[t * 10])})
            for t in (1, 2, 3)}
    write_split(root, spec)
    return root


@pytest.mark.parametrize('use_memory', [False, True])
def test_predict_on_videos_shorter_than_the_key_frames(cfg, tmp_path, use_memory):
    """1-3 frame videos (K = 4): the dataset pipeline and predict give one mask per frame."""
    root = _short_videos_split(str(tmp_path / 'short'))
    dataset = DATASETS.build(dict(type='InterRVOSDataset', data_root=root,
                                  pipeline=cfg.test_pipeline, test_mode=True))
    batch = pseudo_collate([dataset[i] for i in range(len(dataset))])
    assert sorted(len(s.key_frame_inds) for s in batch['data_samples']) == [1, 2, 3]
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    model.sam2_head.use_memory = use_memory
    for answer in ('Sure, it is [SEG_ACT] and [SEG_TAR].<|im_end|>', None):
        model.test_cfg['force_answer'] = answer
        out = model(**model.data_preprocessor(copy.deepcopy(batch), False), mode='predict')
        for sample in out:
            num_frames = sample.num_video_frames
            assert sample.pred_actor_masks.shape == (num_frames, 24, 32)
            if answer is not None:
                assert sample.pred_target_masks.shape == (num_frames, 24, 32)


def test_an_auxiliary_loss_gets_the_documented_inputs_and_adds_its_own_terms(cfg, split_root):
    """Any module in aux_losses is called with AuxLossInputs and the SAM2 head; its loss_*
    terms join the model's; a term another loss already returns is refused."""
    from mmreviosa.models.segmentors.plugin_inputs import AuxLossInputs
    seen = []

    class PromptNorm(torch.nn.Module):
        def forward(self, inputs, sam2_head):
            seen.append((inputs, sam2_head))
            return dict(loss_prompt_norm=inputs.role_prompts.norm(dim=-1).mean())

    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.aux_losses = [PromptNorm()]
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    data = model.data_preprocessor(intershapes_batch(cfg, split_root), True)
    losses = model(**data, mode='loss')
    assert 'loss_prompt_norm' in losses and not any('visual' in k for k in losses)
    (inputs, head), = seen
    assert isinstance(inputs, AuxLossInputs) and head is model.sam2_head
    num_frames = [len(s.frame_inds) for s in data['data_samples']]
    size = model.sam2_head.image_size
    assert inputs.num_frames == num_frames and tuple(inputs.role_names) == ('actor', 'target')
    assert inputs.role_prompts.shape == (sum(num_frames), 2, model.sam2_head.prompt_dim)
    assert inputs.gt_masks.shape == (sum(num_frames), 2, size, size)
    # the second item has no interaction: its target is not supervised on any frame
    assert inputs.weights.tolist() == [[1.0, 1.0]] * num_frames[0] + [[1.0, 0.0]] * num_frames[1]
    assert len(inputs.features) == sum(num_frames)

    class Clash(torch.nn.Module):
        def forward(self, inputs, sam2_head):
            return dict(loss_actor_mask=inputs.role_prompts.sum())

    model.aux_losses = torch.nn.ModuleList([Clash()])
    with pytest.raises(KeyError, match='loss_actor_mask'):
        model(**data, mode='loss')


def test_unknown_test_cfg_keys_are_refused(cfg):
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.test_cfg = dict(use_memory=False)
    with pytest.raises(ValueError, match=r'use_memory.*SAM2Head\(use_memory'):
        MODELS.build(model_cfg)
