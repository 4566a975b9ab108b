"""ReVIOSa on packed items: each turn's role tokens, what they see, and their own GT."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.dataset import pseudo_collate

from mmreviosa.datasets import InterRVOSDataset
from mmreviosa.models.mllm.role_attention import RoleAttentionCapture
from mmreviosa.models.segmentors.role_utils import (find_turn_role_positions, gt_role_masks,
                                                    repeat_over_frames, visual_token_positions)
from mmreviosa.models.segmentors.turns import layout_turns
from mmreviosa.registry import MODELS
from mmreviosa.text import ACTOR_TOKEN, IMG_CONTEXT_TOKEN, TARGET_TOKEN


def test_turn_role_positions_by_hand():
    A, T, x = 7, 8, 1
    ids = torch.tensor([[x, x, A, x, T, x, A, x, x, A, T],
                        [x, A, x, T, x, x, x, x, x, x, x]])
    positions, found = find_turn_role_positions(ids, [A, T], [3, 1])
    # Item 0: turns start at 0, 6, 9; item 1 is one turn.
    assert positions.tolist() == [[2, 4], [6, 6], [9, 10], [1, 3]]
    assert found.tolist() == [[True, True], [True, False], [True, True], [True, True]]
    # A turn whose actor is missing (fewer actors than turns) is not found.
    positions, found = find_turn_role_positions(ids[1:], [A, T], [2])
    assert found.tolist() == [[True, True], [False, False]]


@pytest.fixture(scope='module')
def packed(cfg, split_root):
    """The tiny model and a collated batch of two packed items (3 and 2 turns)."""
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.eval()  # no dropout: the comparisons below are exact up to float error
    dataset = InterRVOSDataset(split_root, expressions_per_item=3, pipeline=cfg.train_pipeline)
    sizes = [len(dataset.get_raw_item(i)['turns']) for i in range(len(dataset))]
    three = sizes.index(3)
    two = next(i for i, n in enumerate(sizes) if n == 2 or (n == 3 and i != three))
    np.random.seed(0)
    batch = pseudo_collate([dataset[three], dataset[two]])
    data = model.data_preprocessor(batch, True)
    return model, data


def _turn_bounds(model, input_ids):
    """(start, end) of each turn of one sequence, found by hand from the actor tokens."""
    actor = model.mllm.role_token_ids[ACTOR_TOKEN]
    marks = (input_ids == actor).nonzero().flatten().tolist()
    starts = [0, *marks[1:]]
    return list(zip(starts, starts[1:] + [len(input_ids)]))


def test_each_turns_masks_are_decoded_on_its_frames_and_scored_with_its_own_gt(packed):
    """The slow obvious way: per turn, its role tokens' hidden states, its item's frames
    encoded on their own, its GT; one loss over the concatenation. The model's mask, dice
    and AML losses must equal it."""
    model, data = packed
    inputs, samples = data['inputs'], data['data_samples']
    assert inputs['num_turns'][0] == 3 and sum(inputs['num_turns']) == len(samples)
    with torch.no_grad():
        losses = model.loss(inputs, samples)
        act_id = model.mllm.role_token_ids[ACTOR_TOKEN]
        tar_id = model.mllm.role_token_ids[TARGET_TOKEN]
        starts = [0, *np.cumsum(inputs['num_frames'])]
        key_starts = [0, *np.cumsum(inputs['num_key_frames'])]
        logits, gts, weights, rows, visual, key_masks = [], [], [], [], [], []
        e = 0
        for b, turns in enumerate(inputs['num_turns']):
            ids = inputs['input_ids'][b][inputs['attention_mask'][b].bool()]
            bounds = _turn_bounds(model, ids)
            assert len(bounds) == turns
            frames = inputs['sam_pixels'][starts[b]:starts[b + 1]]
            feats = model.sam2_head.extract_features(frames)
            for start, end in bounds:
                sample = samples[e]
                seg = ids[start:end].tolist()
                pos = [start + seg.index(act_id),
                       start + seg.index(tar_id) if tar_id in seg else start + seg.index(act_id)]
                assert (tar_id in seg) == bool(sample.has_interaction)
                one = dict(input_ids=ids[None], attention_mask=torch.ones_like(ids)[None],
                           mllm_pixels=inputs['mllm_pixels'][key_starts[b]:key_starts[b + 1]])
                with RoleAttentionCapture(model.aml_layers, torch.tensor([pos])) as capture:
                    out = model.mllm(input_ids=one['input_ids'],
                                     attention_mask=one['attention_mask'],
                                     pixel_values=one['mllm_pixels'])
                # Rows over this item's tokens, zero-padded to the batch length (the AML
                # reads the visual positions only).
                row = capture.attention
                rows.append(F.pad(
                    row, (0, inputs['input_ids'].shape[1] - row.shape[-1])))
                visual.append(visual_token_positions(
                    ids[None], model.mllm.image_token_id,
                    [inputs['num_key_frames'][b] * model.mllm.num_image_tokens]))
                prompt = model.projector(out.hidden_states[0, pos])  # (R, C)
                frame_prompts = prompt[None].expand(len(frames), -1, -1)
                logits.append(model.sam2_head.decode(feats, frame_prompts))
                gt = gt_role_masks([sample], 2, frames.shape[-1])
                gts.append(gt)
                w = torch.tensor([1.0, float(sample.has_interaction)])
                weights.append(w)
                key_masks.append(gt[torch.tensor(sample.key_frame_inds)].transpose(0, 1))
                e += 1
        weights = torch.stack(weights)
        frame_weights = repeat_over_frames(weights, [len(g) for g in gts])
        expected = model.sam2_head.loss_by_role(torch.cat(logits), torch.cat(gts),
                                                frame_weights, model.role_names)
        grid = int(round(model.mllm.num_image_tokens ** 0.5))
        expected['loss_aml'] = model.loss_aml(
            torch.cat(rows), torch.cat(visual), torch.stack(key_masks), weights > 0,
            (inputs['num_key_frames'][0], grid, grid))
    for key, value in expected.items():
        assert torch.allclose(losses[key], value, rtol=1e-4, atol=1e-6), key
    # A random model attends almost uniformly, so the AML hardly tells rows apart: compare
    # the rows it is given with each turn's own rows directly.
    with torch.no_grad():
        turns = layout_turns(inputs, model.role_ids)
        _, captured = model._run_mllm(inputs, capture_positions=turns.capture)
        turn_rows = turns.attention(captured)
    assert turn_rows.shape == torch.cat(rows).shape
    assert torch.allclose(turn_rows, torch.cat(rows), atol=1e-6)
    # The GT association matters: the same logits scored against the turns' GT in another
    # order give other losses.
    shuffled = model.sam2_head.loss_by_role(
        torch.cat(logits), torch.cat(gts[1:] + gts[:1]), frame_weights, model.role_names)
    assert not torch.allclose(shuffled['loss_actor_mask'], losses['loss_actor_mask'])


def test_role_tokens_see_earlier_turns_and_never_later_ones(packed):
    """Exactly which positions each turn's role tokens attend to (Sa2VA's causal packing)."""
    model, data = packed
    inputs = data['inputs']
    ids = inputs['input_ids'][0]
    length = int(inputs['attention_mask'][0].sum())
    positions, found = find_turn_role_positions(inputs['input_ids'], model.role_ids,
                                                inputs['num_turns'])
    with torch.no_grad(), RoleAttentionCapture(model.aml_layers, positions[:3].flatten()[None]
                                               ) as capture:
        model.mllm(input_ids=inputs['input_ids'][:1], attention_mask=inputs['attention_mask'][:1],
                   pixel_values=inputs['mllm_pixels'][:inputs['num_key_frames'][0]])
    rows = capture.attention[0]  # (layers, heads, 3 * R, L)
    bounds = _turn_bounds(model, ids[:length])
    for q, pos in enumerate(positions[:3].flatten().tolist()):
        if not found[:3].flatten()[q]:
            continue
        attends = (rows[..., q, :] > 0).all(dim=(0, 1))  # every layer and head
        ignores = (rows[..., q, :] == 0).all(dim=(0, 1))
        # Every position up to and including its own, none after it (later turns, padding).
        assert attends[:pos + 1].all() and ignores[pos + 1:].all()
        turn = q // 2
        if turn > 0:  # including the earlier turns' questions, answers and role tokens
            assert attends[bounds[0][0]:bounds[turn][0]].all()


def test_first_turn_reads_what_a_one_expression_item_reads(packed):
    """The first turn's prompts and masks equal those of the item cut after its answer;
    a later turn's differ (it also reads the earlier turns)."""
    model, data = packed
    inputs, samples = data['inputs'], data['data_samples']
    ids = inputs['input_ids'][0][inputs['attention_mask'][0].bool()]
    first_end = _turn_bounds(model, ids)[1][0]
    alone = dict(inputs, input_ids=ids[None, :first_end],
                 attention_mask=torch.ones_like(ids)[None, :first_end],
                 labels=inputs['labels'][:1, :first_end],
                 mllm_pixels=inputs['mllm_pixels'][:inputs['num_key_frames'][0]],
                 num_key_frames=inputs['num_key_frames'][:1],
                 sam_pixels=inputs['sam_pixels'][:inputs['num_frames'][0]],
                 num_frames=inputs['num_frames'][:1], num_turns=[1])
    with torch.no_grad():
        packed_out = model(inputs, samples, mode='tensor')
        alone_out = model(alone, samples[:1], mode='tensor')
    assert torch.allclose(packed_out.role_prompts[0], alone_out.role_prompts[0], atol=1e-5)
    frames = inputs['num_frames'][0]
    assert torch.allclose(packed_out.mask_logits[:frames], alone_out.mask_logits, atol=1e-4)
    assert packed_out.role_prompts.shape[0] == len(samples)
    assert packed_out.mask_logits.shape[0] == sum(
        inputs['num_frames'][b] for b, n in enumerate(inputs['num_turns']) for _ in range(n))
    # The second turn asks about another expression: its prompt is not the first one's.
    assert not torch.allclose(packed_out.role_prompts[1, 0], packed_out.role_prompts[0, 0],
                              atol=1e-3)


def test_packed_training_step_reaches_every_trained_part(packed, cfg, split_root):
    model, data = packed
    model.train()
    try:
        losses = model.loss(data['inputs'], data['data_samples'])
        sum(losses.values()).backward()
    finally:
        model.eval()
    assert all(torch.isfinite(v) for v in losses.values())
    assert all(p.grad is not None for p in model.projector.parameters())
    model.zero_grad(set_to_none=True)


def test_predict_refuses_packed_items(packed):
    model, data = packed
    with pytest.raises(ValueError, match='one expression per item'):
        model.predict(data['inputs'], data['data_samples'])


def test_image_tokens_appear_once_per_packed_item(packed):
    model, data = packed
    image_id = model.mllm.tokenizer.convert_tokens_to_ids(IMG_CONTEXT_TOKEN)
    counts = (data['inputs']['input_ids'] == image_id).sum(dim=1).tolist()
    assert counts == [k * model.mllm.num_image_tokens for k in data['inputs']['num_key_frames']]
