"""Tests of the SAM2 mask head: architecture size, training graph, losses and video inference."""
import pytest
import torch
import torch.nn.functional as F
from mmdet.models.losses import CrossEntropyLoss, DiceLoss

from mmreviosa.models.heads.sam2_builder import build_sam2_from_config
from mmreviosa.models.heads.sam2_head import SAM2Head
from mmreviosa.registry import MODELS

TINY = dict(image_size=64, embed_dim=32, mem_dim=16)


def tiny_head(seed=0, **kwargs):
    torch.manual_seed(seed)
    return SAM2Head(model_cfg=dict(TINY), **kwargs)


def test_real_sam21_hiera_l_parameter_count_on_meta():
    # Every parameter of SAM2Base (image encoder, memory attention / encoder, prompt
    # encoder, mask decoder, object-pointer projections and the loose embeddings);
    # the released SAM2.1 Hiera-L has 224.4M.
    with torch.device('meta'):
        head = SAM2Head(model_cfg='configs/sam2.1/sam2.1_hiera_l.yaml')
    params = list(head.parameters())
    assert all(p.device.type == 'meta' for p in params)
    num_params = sum(p.numel() for p in params)
    assert abs(num_params - 224.4e6) / 224.4e6 < 0.02, num_params
    assert head.prompt_dim == 256 and head.image_size == 1024 and head.mask_size == 256
    # the image encoder (Hiera-L trunk + FPN neck) is frozen by default
    trainable = {n.split('.')[1] for n, p in head.named_parameters() if p.requires_grad}
    assert 'image_encoder' not in trainable and 'memory_attention' not in trainable
    assert 'sam_mask_decoder' in trainable


def test_unknown_sam2_config_names_the_shipped_ones():
    with pytest.raises(FileNotFoundError, match='sam2.1_hiera_l.yaml'):
        build_sam2_from_config('configs/sam2.1/sam2.1_hiera_xxl.yaml')


def test_build_from_registry_and_bad_multimask():
    head = MODELS.build(dict(type='SAM2Head', model_cfg=dict(TINY)))
    assert isinstance(head, SAM2Head) and head.prompt_dim == 32 and head.mask_size == 16
    with pytest.raises(ValueError, match='multimask_output'):
        SAM2Head(model_cfg=dict(TINY), multimask_output=True)


def test_tiny_gradients_reach_decoder_and_prompts_not_frozen_encoder():
    head = tiny_head()
    head.train()
    assert not head.sam2.image_encoder.training  # frozen parts stay in eval mode
    pixels = torch.randn(6, 3, 64, 64)
    prompts = torch.randn(6, 2, head.prompt_dim, requires_grad=True)
    feats = head.extract_features(pixels)
    mask_logits = head.decode(feats, prompts)
    assert mask_logits.shape == (6, 2, 16, 16)
    gt_masks = torch.rand(6, 2, 64, 64) > 0.5
    losses = head.loss(mask_logits, gt_masks, torch.ones(6, 2))
    assert set(losses) == {'loss_mask', 'loss_dice'}
    sum(losses.values()).backward()

    assert prompts.grad is not None and prompts.grad.abs().sum() > 0
    decoder_grads = [p.grad for p in head.sam2.sam_mask_decoder.transformer.parameters()]
    assert all(g is not None for g in decoder_grads)
    assert sum(g.abs().sum() for g in decoder_grads) > 0
    for param in head.sam2.image_encoder.parameters():
        assert not param.requires_grad and param.grad is None
    # DDP without find_unused_parameters: every trainable parameter got a gradient
    unused = [n for n, p in head.named_parameters() if p.requires_grad and p.grad is None]
    assert unused == []


def test_trainable_encoder_gets_gradients():
    head = tiny_head(freeze_image_encoder=False)
    head.train()
    assert head.sam2.image_encoder.training
    feats = head.extract_features(torch.randn(2, 3, 64, 64))
    mask_logits = head.decode(feats, torch.randn(2, 1, head.prompt_dim))
    sum(head.loss(mask_logits, torch.ones(2, 1, 64, 64), torch.ones(2, 1)).values()).backward()
    assert head.sam2.image_encoder.stem[0].weight.grad.abs().sum() > 0


def test_loss_ignores_weight_zero_rows():
    torch.manual_seed(0)
    head = tiny_head()
    mask_logits = torch.randn(4, 2, 16, 16, requires_grad=True)
    gt_masks = torch.rand(4, 2, 21, 23) > 0.6
    weights = torch.tensor([[1., 0.], [1., 1.], [0., 0.], [1., 0.]])
    losses = head.loss(mask_logits, gt_masks, weights)

    valid = weights.bool()
    upsampled = F.interpolate(mask_logits.detach()[valid][:, None], size=(21, 23),
                              mode='bilinear', align_corners=False)[:, 0]
    valid_gt = gt_masks[valid].float()
    ce = CrossEntropyLoss(use_sigmoid=True, loss_weight=2.0)
    dice = DiceLoss(use_sigmoid=True, activate=True, naive_dice=True, eps=1.0, loss_weight=0.5)
    expected_mask = ce(upsampled.flatten(1), valid_gt.flatten(1))
    expected_dice = dice(upsampled.flatten(1), valid_gt.flatten(1))
    torch.testing.assert_close(losses['loss_mask'], expected_mask)
    torch.testing.assert_close(losses['loss_dice'], expected_dice)
    # by hand too: mean BCE over valid pixels x 2, mean (1 - dice) over valid rows x 0.5
    bce = F.binary_cross_entropy_with_logits(upsampled, valid_gt)
    torch.testing.assert_close(losses['loss_mask'], 2.0 * bce)
    probs = upsampled.sigmoid().flatten(1)
    dice_rows = 1 - (2 * (probs * valid_gt.flatten(1)).sum(1) + 1) / (
        probs.sum(1) + valid_gt.flatten(1).sum(1) + 1)
    torch.testing.assert_close(losses['loss_dice'], 0.5 * dice_rows.mean())

    sum(losses.values()).backward()
    assert (mask_logits.grad[~valid] == 0).all() and (mask_logits.grad[valid] != 0).any()


def test_loss_all_rows_ignored_is_zero_with_a_graph():
    head = tiny_head()
    mask_logits = torch.randn(2, 2, 16, 16, requires_grad=True)
    losses = head.loss(mask_logits, torch.ones(2, 2, 16, 16), torch.zeros(2, 2))
    total = sum(losses.values())
    assert total.item() == 0
    total.backward()
    assert mask_logits.grad is not None and (mask_logits.grad == 0).all()


def test_point_sampled_loss_ignores_weight_zero_rows():
    head = tiny_head(num_points=64)
    mask_logits = torch.randn(3, 2, 16, 16)
    gt_masks = torch.rand(3, 2, 64, 64) > 0.5
    weights = torch.tensor([[1., 0.], [0., 1.], [1., 0.]])
    garbage_gt = torch.where(weights.bool()[..., None, None], gt_masks, ~gt_masks)
    torch.manual_seed(3)
    losses = head.loss(mask_logits, gt_masks, weights)
    torch.manual_seed(3)
    garbage_losses = head.loss(mask_logits, garbage_gt, weights)
    for key in losses:
        torch.testing.assert_close(losses[key], garbage_losses[key])
    # points carry the right labels: logits agreeing with a left-half mask score far
    # better than the opposite ones
    left_half = torch.zeros(3, 2, 64, 64, dtype=torch.bool)
    left_half[..., :32] = True
    confident = (left_half.float() * 2 - 1)[:, :, ::4, ::4] * 20
    good = head.loss(confident, left_half, weights)
    bad = head.loss(-confident, left_half, weights)
    assert good['loss_mask'] < 0.2 * bad['loss_mask']
    assert good['loss_dice'] < 0.2 * bad['loss_dice']


@pytest.mark.parametrize('use_memory', [True, False])
def test_predict_video_shape_dtype_and_determinism(use_memory):
    head = tiny_head().eval()
    torch.manual_seed(1)
    pixels = torch.randn(5, 3, 64, 64)
    prompts = torch.randn(2, 3, head.prompt_dim)
    masks = head.predict_video(pixels, [1, 3], prompts, (37, 51), use_memory=use_memory)
    assert masks.shape == (3, 5, 37, 51) and masks.dtype == torch.bool
    again = head.predict_video(pixels, [1, 3], prompts, (37, 51), use_memory=use_memory)
    assert torch.equal(masks, again)


def test_key_frames_decode_without_memory_and_others_follow_memory():
    head = tiny_head().eval()
    torch.manual_seed(2)
    pixels = torch.randn(6, 3, 64, 64)
    prompts = torch.randn(2, 2, head.prompt_dim)
    with torch.no_grad():
        feats = head.extract_features(pixels)
        video_logits = head.decode_video(feats, [2, 4], prompts)  # (R, T, h, w)
        key_logits = head.decode(feats.select([2, 4]), prompts)  # (K, R, h, w)
        # non-key frames get no prompt: a different key prompt reaches them via memory only
        other_logits = head.decode_video(feats, [2, 4], prompts.flip(1))
    assert video_logits.shape == (2, 6, 16, 16)
    torch.testing.assert_close(video_logits[:, [2, 4]], key_logits.transpose(0, 1))
    for frame_idx in (0, 1, 3, 5):  # 0, 1 tracked backwards from frame 2
        assert not torch.allclose(video_logits[0, frame_idx], other_logits[0, frame_idx])


def test_forward_tracking_is_causal():
    head = tiny_head().eval()
    torch.manual_seed(4)
    pixels = torch.randn(4, 3, 64, 64)
    changed = pixels.clone()
    changed[3] = torch.randn(3, 64, 64)
    prompts = torch.randn(1, 2, head.prompt_dim)
    with torch.no_grad():
        logits = head.decode_video(head.extract_features(pixels), [0], prompts)
        changed_logits = head.decode_video(head.extract_features(changed), [0], prompts)
    torch.testing.assert_close(logits[:, :3], changed_logits[:, :3], rtol=0, atol=0)
    assert not torch.allclose(logits[:, 3], changed_logits[:, 3])


def test_predict_frames_uses_nearest_key_prompt():
    head = tiny_head().eval()
    torch.manual_seed(5)
    pixels = torch.randn(6, 3, 64, 64)
    prompts = torch.randn(2, 1, head.prompt_dim)  # keys 4 then 0 (order must not matter)
    masks = head.predict_frames(pixels, [4, 0], prompts, (64, 64))
    # frame: 0 1 2 3 4 5 -> key 0 0 0(tie: earlier) 4 4 4 -> prompt row 1 1 1 0 0 0
    expected_rows = [1, 1, 1, 0, 0, 0]
    with torch.no_grad():
        logits = head.decode(head.extract_features(pixels), prompts[expected_rows])
    expected = F.interpolate(logits.transpose(0, 1), size=(64, 64), mode='bilinear',
                             align_corners=False) > 0
    assert torch.equal(masks, expected)


def test_bad_key_frames_and_prompt_dims_raise():
    head = tiny_head().eval()
    pixels = torch.randn(3, 3, 64, 64)
    with pytest.raises(ValueError, match='distinct'):
        head.predict_video(pixels, [1, 1], torch.randn(2, 1, 32), (8, 8))
    with pytest.raises(ValueError, match=r'\[0, 3\)'):
        head.predict_video(pixels, [3], torch.randn(1, 1, 32), (8, 8))
    with pytest.raises(AssertionError, match='prompts must be'):
        head.predict_video(pixels, [0], torch.randn(1, 1, 256), (8, 8))
    with pytest.raises(AssertionError, match=r'sam_pixels must be \(N, 3, 64, 64\)'):
        head.extract_features(torch.randn(1, 3, 32, 32))


def test_checkpoint_round_trip(tmp_path):
    source = tiny_head(seed=0)
    path = str(tmp_path / 'sam2_tiny.pt')
    torch.save({'model': source.sam2.state_dict()}, path)
    loaded = tiny_head(seed=1, checkpoint=path)
    for (name, expected), actual in zip(source.sam2.state_dict().items(),
                                        loaded.sam2.state_dict().values()):
        assert torch.equal(expected, actual), name
    torch.save({'model': {'unrelated.weight': torch.zeros(1)}}, path)
    with pytest.raises(RuntimeError, match='does not match'):
        tiny_head(checkpoint=path)


def test_real_config_shrunk_by_overrides_runs_end_to_end():
    torch.manual_seed(0)
    head = SAM2Head('configs/sam2.1/sam2.1_hiera_t.yaml',
                    hydra_overrides=['++model.image_size=128'])
    assert head.prompt_dim == 256 and head.mask_size == 32
    prompts = torch.randn(2, 2, 256, requires_grad=True)
    mask_logits = head.decode(head.extract_features(torch.randn(2, 3, 128, 128)), prompts)
    assert mask_logits.shape == (2, 2, 32, 32)
    losses = head.loss(mask_logits, torch.rand(2, 2, 33, 35) > 0.5, torch.tensor([[1., 0.],
                                                                                  [1., 1.]]))
    sum(losses.values()).backward()
    assert prompts.grad.abs().sum() > 0
    assert [n for n, p in head.named_parameters() if p.requires_grad and p.grad is None] == []
    head.eval()
    masks = head.predict_video(torch.randn(3, 3, 128, 128), [1], torch.randn(1, 2, 256), (31, 45))
    assert masks.shape == (2, 3, 31, 45) and masks.dtype == torch.bool


def point_head():
    head = tiny_head()
    head.train_point_embedding()
    return head


def test_embed_points_is_prompt_encoders_click_embedding():
    head = point_head()
    encoder = head.sam2.sam_prompt_encoder
    points = torch.tensor([[0.25, 0.5], [0.9, 0.1], [0.0, 1.0]])
    size = head.image_size
    # PromptEncoder embeds a click at pixel p as PE(p + 0.5) + point_embeddings[label]
    clicks = points[None] * size - 0.5
    with torch.no_grad():
        expected = encoder._embed_points(clicks, torch.ones(1, 3, dtype=torch.long), pad=False)
    assert torch.allclose(head.embed_points(points), expected[0], atol=1e-5)
    assert head.embed_points(points.view(3, 1, 2)).shape == (3, 1, head.prompt_dim)


def test_point_prompts_train_only_the_foreground_point_embedding():
    head = point_head()
    embeddings = head.sam2.sam_prompt_encoder.point_embeddings
    assert [e.weight.requires_grad for e in embeddings] == [False, True, False, False]
    head.embed_points(torch.rand(2, 2)).sum().backward()
    assert embeddings[1].weight.grad is not None
    with pytest.raises(RuntimeError, match='train_point_embedding'):
        tiny_head().embed_points(torch.rand(2, 2))


def test_loss_by_role_is_the_loss_of_each_role_under_its_own_keys():
    head = tiny_head()
    logits, gt = torch.randn(3, 2, 16, 16), torch.rand(3, 2, 64, 64) > 0.5
    weights = torch.tensor([[1., 0.], [1., 1.], [0., 1.]])
    losses = head.loss_by_role(logits, gt, weights, ('actor', 'target'), prefix='visual_')
    assert list(losses) == ['loss_visual_actor_mask', 'loss_visual_actor_dice',
                            'loss_visual_target_mask', 'loss_visual_target_dice']
    for r, role in enumerate(('actor', 'target')):
        alone = head.loss(logits[:, r:r + 1], gt[:, r:r + 1], weights[:, r:r + 1])
        assert torch.equal(losses[f'loss_visual_{role}_mask'], alone['loss_mask'])
        assert torch.equal(losses[f'loss_visual_{role}_dice'], alone['loss_dice'])


def test_checkpoints_that_name_the_adapter_prompt_film_still_load():
    head = tiny_head(prompt_adapter=dict(type='PromptFeatureModulation'))
    state = {k.replace('prompt_adapter.', 'prompt_film.'): v + 1
             for k, v in head.state_dict().items()}
    assert any(k.startswith('prompt_film.') for k in state)
    fresh = tiny_head(prompt_adapter=dict(type='PromptFeatureModulation'))
    fresh.load_state_dict(state, strict=True)
    assert torch.equal(fresh.prompt_adapter.linears[0].bias,
                       state['prompt_film.linears.0.bias'])
