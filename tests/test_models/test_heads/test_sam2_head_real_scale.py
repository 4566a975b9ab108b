"""SAM2 head properties the real-scale configs depend on: frame-by-frame inference with
the same masks and a peak memory independent of the video length, bf16 encoder
weights, Sa2VA's sparse-prompt layout and no weight decay on untrained outputs."""
import pytest
import torch

from mmreviosa.models.heads.sam2_head import SAM2Head
from mmreviosa.models.heads.sam2_video import memory_window
from mmreviosa.testing import PeakTensorMemory

# Short memory windows (memory features 5 frames, object pointers 7), so that videos of 20
# frames outrun both, in both directions.
TINY = dict(image_size=64, embed_dim=32, mem_dim=16, num_maskmem=3, max_obj_ptrs_in_encoder=6)


def tiny_head(seed=0, tiny=TINY, **kwargs):
    torch.manual_seed(seed)
    return SAM2Head(model_cfg=dict(tiny), **kwargs).eval()


@pytest.mark.parametrize('key_frame_inds', [[0], [6, 12], [17, 8]])
def test_frame_by_frame_prediction_equals_whole_video_decoding(key_frame_inds):
    """Lazy encoding + dropped memory entries give the masks of the all-frames path."""
    head = tiny_head()
    memory_frames, pointers = memory_window(head.sam2)
    assert memory_frames < pointers < 20 - min(key_frame_inds) - 1  # entries get dropped
    torch.manual_seed(1)
    pixels = torch.randn(20, 3, 64, 64)
    prompts = torch.randn(len(key_frame_inds), 2, head.prompt_dim)
    masks = head.predict_video(pixels, key_frame_inds, prompts, (40, 56), use_memory=True)
    with torch.no_grad():  # every frame's features at once, every memory entry kept
        logits = head.decode_video(head.extract_features(pixels), key_frame_inds, prompts)
        expected = torch.nn.functional.interpolate(logits, size=(40, 56), mode='bilinear',
                                                   align_corners=False) > 0
    assert masks.shape == expected.shape == (2, 20, 40, 56)
    # Encoding one frame or a batch may differ in the last float bit: allow 2 of 89600
    # pixels (keeping the object pointers 1 frame instead of 7 changes about 100).
    assert (masks != expected).sum() <= 2
    assert expected.any() and (~expected).any()


@pytest.mark.parametrize('use_memory', [True, False])
def test_peak_prediction_memory_does_not_grow_with_video_length(use_memory):
    head = tiny_head(tiny=dict(TINY, image_size=256))
    prompts = torch.randn(2, 2, head.prompt_dim)
    peaks = {}
    for num_frames in (6, 24):
        pixels = torch.randn(num_frames, 3, 256, 256)
        with PeakTensorMemory() as memory:
            head.predict_video(pixels, [0, 3], prompts, (16, 16), use_memory=use_memory)
        peaks[num_frames] = memory.peak_bytes
    # Before frame-by-frame inference the peak grew about 4x with 4x the frames.
    assert peaks[24] < 1.1 * peaks[6], peaks


def test_padded_prompt_layout_puts_two_no_click_tokens_before_the_prompt():
    head = tiny_head(prompt_layout='padded')
    decoder = head.sam2.sam_mask_decoder
    seen = {}
    hook = decoder.register_forward_pre_hook(
        lambda mod, args, kwargs: seen.update(kwargs), with_kwargs=True)
    prompts = torch.randn(3, 2, head.prompt_dim)
    with torch.no_grad():
        head.decode(head.extract_features(torch.randn(3, 3, 64, 64)), prompts)
    hook.remove()
    sparse = seen['sparse_prompt_embeddings']
    assert sparse.shape == (6, 3, head.prompt_dim)
    # SAM's prompt encoder embeds a label -1 point as not_a_point_embed alone, and
    # appends a padding point of label -1 when no box is given.
    no_click = head.sam2.sam_prompt_encoder.not_a_point_embed.weight[0]
    torch.testing.assert_close(sparse[:, 0], no_click.expand(6, -1))
    torch.testing.assert_close(sparse[:, 1], no_click.expand(6, -1))
    torch.testing.assert_close(sparse[:, 2], prompts.flatten(0, 1))
    with pytest.raises(ValueError, match='prompt_layout'):
        SAM2Head(model_cfg=dict(TINY), prompt_layout='points')


def test_outputs_without_a_loss_are_frozen_and_keep_their_weights():
    head = tiny_head().train()
    decoder = head.sam2.sam_mask_decoder
    trained = [n for n, p in head.named_parameters() if p.requires_grad]
    assert any('output_hypernetworks_mlps.0.' in n for n in trained)
    assert not any(f'output_hypernetworks_mlps.{i}.' in n for n in trained for i in (1, 2, 3))
    assert not any('iou_prediction_head' in n for n in trained)
    before = {i: [p.clone() for p in decoder.output_hypernetworks_mlps[i].parameters()]
              for i in range(4)}
    optimizer = torch.optim.AdamW([p for p in head.parameters() if p.requires_grad], lr=1e-2,
                                  weight_decay=0.5)
    feats = head.extract_features(torch.randn(2, 3, 64, 64))
    logits = head.decode(feats, torch.randn(2, 1, head.prompt_dim))
    losses = head.loss(logits, torch.rand(2, 1, 64, 64) > 0.5, torch.ones(2, 1))
    sum(losses.values()).backward()
    optimizer.step()
    for i in (1, 2, 3):
        for old, new in zip(before[i], decoder.output_hypernetworks_mlps[i].parameters()):
            assert torch.equal(old, new)
    assert any(not torch.equal(old, new) for old, new in
               zip(before[0], decoder.output_hypernetworks_mlps[0].parameters()))


def test_bf16_image_encoder_feeds_a_float32_decoder_with_and_without_autocast():
    fp32 = tiny_head()
    bf16 = tiny_head(image_encoder_dtype='bfloat16')
    assert all(p.dtype == torch.bfloat16 for p in bf16.sam2.image_encoder.parameters())
    assert all(p.dtype == torch.float32 for p in bf16.sam2.sam_mask_decoder.parameters())
    torch.manual_seed(3)
    pixels = torch.randn(3, 3, 64, 64)
    prompts = torch.randn(1, 2, bf16.prompt_dim)
    with torch.no_grad():
        expected = fp32.decode(fp32.extract_features(pixels), prompts.expand(3, -1, -1))
        feats = bf16.extract_features(pixels)
        assert feats.image_embeddings.dtype == torch.float32
        logits = bf16.decode(feats, prompts.expand(3, -1, -1))
    assert logits.dtype == torch.float32
    assert (logits - expected).abs().max() < 0.05 * expected.abs().max()
    masks = bf16.predict_video(pixels, [1], prompts, (20, 20))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        masks_autocast = bf16.predict_video(pixels, [1], prompts, (20, 20))
    assert masks.shape == masks_autocast.shape == (2, 3, 20, 20)
    with pytest.raises(ValueError, match='frozen image encoder'):
        SAM2Head(model_cfg=dict(TINY), image_encoder_dtype='bfloat16',
                 freeze_image_encoder=False)


@pytest.mark.parametrize('use_memory', [True, False])
def test_whole_head_in_bf16_as_deepspeed_casts_it(use_memory):
    """DeepSpeed's bf16 mode casts every module and buffer to bf16, with no autocast."""
    head = tiny_head(prompt_layout='padded').bfloat16()
    torch.manual_seed(6)
    pixels = torch.randn(4, 3, 64, 64)
    prompts = torch.randn(2, 2, head.prompt_dim, dtype=torch.bfloat16)
    feats = head.extract_features(pixels)
    logits = head.decode(feats, prompts[:1].expand(4, -1, -1))
    assert logits.dtype == torch.float32 and torch.isfinite(logits).all()
    masks = head.predict_video(pixels, [0, 2], prompts, (12, 12), use_memory=use_memory)
    assert masks.shape == (2, 4, 12, 12)
