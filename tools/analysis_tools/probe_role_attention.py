"""Does each role token look at its object?  Attention grounding per LLM layer.

Runs the model teacher-forced on items of a split (the training pipeline, so the
answer with its role tokens is in the sequence) and, for every LLM layer,
compares the role token's attention over each key frame's visual tokens (mean
over heads, renormalised per frame, as the Attention Mask Loss sees it) with the
role's GT mask on that frame's patch grid:

* share: attention mass on the patches the mask touches;
* chance: the share uniform attention would get (the fraction of such patches);
* hit: how often the most-attended patch touches the mask.

Means are over frames where the object is visible (targets only for expressions
with an interaction), in percent.

Example::

    python tools/analysis_tools/probe_role_attention.py \
        configs/reviosa/reviosa_tiny_intershapes.py work_dirs/demo/iter_1000.pth \
        --data-root data/intershapes/valid --num-items 128
"""
import argparse
import json
import os
import os.path as osp
import sys

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import DictAction
from mmengine.dataset import pseudo_collate
from mmengine.utils import ProgressBar
from terminaltables import AsciiTable

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Role-token attention grounding per layer')
    parser.add_argument('config')
    parser.add_argument('checkpoint', help='a checkpoint, or "none" for the initialised model')
    parser.add_argument('--data-root', help="a split folder; default: the training dataset's")
    parser.add_argument('--num-items', type=int, default=128)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--seed', type=int, default=0, help='seed of the frame sampling')
    parser.add_argument('--out', help='also write the table as JSON here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def teacher_forced_batches(model, dataset, num_items: int, batch_size: int):
    """Yield ``(inputs, data_samples)`` of the first ``num_items`` items, ``batch_size`` at a
    time, through the model's data preprocessor in training mode (right padding, so the
    positions of the prompt tokens are those the pipeline wrote), with a progress bar."""
    num_items = min(num_items, len(dataset))
    bar = ProgressBar(num_items)
    for start in range(0, num_items, batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size, num_items))]
        data = model.data_preprocessor(pseudo_collate(items), True)
        yield data['inputs'], data['data_samples']
        for _ in items:
            bar.update()
    sys.stdout.write('\n')


def capture_all_layers(model, inputs: dict, query_positions: torch.Tensor) -> torch.Tensor:
    """Attention rows of ``query_positions`` (B, R) in every LLM layer and head, no gradient.

    Returns:
        Tensor: (B, n_layers, n_heads, R, L), equal to eager attention's rows.
    """
    from mmreviosa.models.mllm.role_attention import RoleAttentionCapture
    mllm = model.mllm
    num_layers = mllm.model.config.text_config.num_hidden_layers
    with torch.no_grad(), RoleAttentionCapture(layers=list(range(num_layers)),
                                               query_positions=query_positions) as capture:
        mllm(input_ids=inputs['input_ids'], attention_mask=inputs['attention_mask'],
             pixel_values=inputs['mllm_pixels'])
    return capture.attention


def visual_positions_of(model, inputs: dict) -> torch.Tensor:
    """(B, K * P * P) positions of the image-context tokens of a batch."""
    from mmreviosa.models.segmentors.role_utils import visual_token_positions
    num_key = inputs['num_key_frames'][0]
    num_tokens = [num_key * model.mllm.num_image_tokens] * len(inputs['input_ids'])
    return visual_token_positions(inputs['input_ids'], model.mllm.image_token_id, num_tokens)


def key_frame_coverage(data_samples, role: str, grid: int) -> torch.Tensor:
    """Fraction of each patch the role's GT mask covers on each key frame -> (B, K, P, P).

    The masks are area-averaged onto the patch grid, as the Attention Mask Loss does.
    """
    masks = []
    for sample in data_samples:
        gt = sample.gt_target_masks if role == 'target' else sample.gt_actor_masks
        masks.append(gt[list(sample.key_frame_inds)].float())
    num_key = masks[0].shape[0]
    coverage = F.adaptive_avg_pool2d(torch.stack(masks).flatten(0, 1), (grid, grid))
    return coverage.view(len(masks), num_key, grid, grid)


def grounding_sums(attention: torch.Tensor, visual_positions: torch.Tensor,
                   coverage: torch.Tensor, keep: torch.Tensor, per_head: bool = False) -> dict:
    """Sums over visible frames of how each layer's (and head's) attention grounds the masks.

    Each row's attention over a key frame's visual tokens is renormalised to sum to 1 over
    the frame (as the Attention Mask Loss sees it) and scored by
    :func:`mmreviosa.evaluation.functional.attention_grounding`.

    Args:
        attention (Tensor): (B, n_layers, n_heads, R, L) attention rows.
        visual_positions (Tensor): (B, K * P * P) positions of the image tokens.
        coverage (Tensor): (B, R, K, P, P) mask coverage of each row's object.
        keep (Tensor): (B, R) bool, rows to score.
        per_head (bool): score every head as well as the head mean.

    Returns:
        dict: ``share``, ``chance``, ``hit``: float64 (n_layers, C) sums, the columns being
        the heads then the head mean (C = n_heads + 1) with ``per_head``, else the head mean
        only (C = 1); ``frames``: the number of frames scored.
    """
    from mmreviosa.evaluation.functional import attention_grounding
    from mmreviosa.models.segmentors.role_utils import visual_attention_maps
    batch, num_layers, num_heads, num_rows, length = attention.shape
    num_key, grid_h, grid_w = coverage.shape[2:]
    attention = attention.float()
    columns = attention.mean(dim=2, keepdim=True)
    if per_head:
        columns = torch.cat([attention, columns], dim=2)
    num_columns = columns.shape[2]
    # Fold (layer, column, row) into the row axis: one map per row, renormalised per frame.
    folded = columns.reshape(batch, 1, 1, num_layers * num_columns * num_rows, length)
    maps = visual_attention_maps(folded, visual_positions, (num_key, grid_h, grid_w))
    maps = maps.view(batch, num_layers, num_columns, num_rows, num_key, grid_h, grid_w)
    scores = attention_grounding(maps, coverage[:, None, None].expand_as(maps))
    valid = scores['valid'] & keep[:, None, None, :, None].to(maps.device)
    sums = {key: torch.where(valid, scores[key], 0).sum(dim=(0, 3, 4)).double()
            for key in ('share', 'chance', 'hit')}
    sums['frames'] = int(valid[:, 0, 0].sum())
    return sums


def probe(model, dataset, num_items: int, batch_size: int) -> dict:
    """{role: {layer: {'share', 'chance', 'hit'}}} means in percent, plus frame counts."""
    from mmreviosa.models.segmentors.role_utils import find_role_positions
    num_layers = model.mllm.model.config.text_config.num_hidden_layers
    grid = int(round(model.mllm.num_image_tokens ** 0.5))
    roles = ['seg'] if model.num_roles == 1 else ['actor', 'target']
    sums = {r: {k: np.zeros(num_layers) for k in ('share', 'chance', 'hit')} for r in roles}
    counts = {r: 0 for r in roles}
    for inputs, samples in teacher_forced_batches(model, dataset, num_items, batch_size):
        positions, found = find_role_positions(inputs['input_ids'], model.role_ids)
        attention = capture_all_layers(model, inputs, positions)
        visual = visual_positions_of(model, inputs)
        for r, role in enumerate(roles):
            keep = found[:, r].clone()
            if role == 'target':
                keep &= torch.tensor([bool(s.has_interaction) for s in samples])
            scores = grounding_sums(attention[:, :, :, r:r + 1], visual,
                                    key_frame_coverage(samples, role, grid)[:, None],
                                    keep[:, None])
            for key in ('share', 'chance', 'hit'):
                sums[role][key] += scores[key][:, 0].numpy()
            counts[role] += scores['frames']
    result = {}
    for role in roles:
        n = max(counts[role], 1)
        result[role] = {str(layer): {k: 100 * sums[role][k][layer] / n for k in sums[role]}
                        for layer in range(num_layers)}
        result[role]['frames'] = counts[role]
    return result


def model_and_training_items(config, checkpoint, data_root, cfg_options, reader: str):
    """The model of ``config`` (and ``checkpoint``) and the training pipeline's dataset.

    The training pipeline gives teacher-forced answers, so the role tokens are in the
    sequence. ``reader`` names the tool in the error for a model that cannot capture
    attention rows.
    """
    from mmreviosa.apis import init_model
    from mmreviosa.registry import DATASETS
    model = init_model(config, checkpoint, cfg_options=cfg_options)
    if not model.mllm.model.config.text_config._attn_implementation.startswith('reviosa'):
        raise SystemExit(f'{reader}: the config must use '
                         "attn_implementation='reviosa_sdpa' (or another registered one)")
    dataset_cfg = model.cfg.train_dataloader.dataset.copy()
    dataset_cfg['pipeline'] = model.cfg.train_pipeline
    # One expression per item: the probe reads each item's role tokens as one expression's.
    dataset_cfg['expressions_per_item'] = 1
    if data_root:
        dataset_cfg['data_root'] = data_root
    return model, DATASETS.build(dataset_cfg)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(int(os.environ.get('MMREVIOSA_NUM_THREADS', '1')))
    checkpoint = None if args.checkpoint == 'none' else args.checkpoint
    model, dataset = model_and_training_items(
        args.config, checkpoint, args.data_root, args.cfg_options,
        'the probe reads role-token attention')
    np.random.seed(args.seed)
    result = probe(model, dataset, args.num_items, args.batch_size)
    keys = ('share', 'chance', 'hit')
    rows = [['role', 'layer'] + [f'{k} %' for k in keys]]
    for role, layers in result.items():
        for layer, scores in layers.items():
            if layer != 'frames':
                rows.append([role, layer] + [f'{scores[k]:.1f}' for k in keys])
    print(AsciiTable(rows).table)
    print('frames: ' + ', '.join(f'{r} {v["frames"]}' for r, v in result.items()))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)


if __name__ == '__main__':
    main()
