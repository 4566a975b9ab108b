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


def probe(model, dataset, num_items: int, batch_size: int) -> dict:
    """{role: {layer: {'share', 'chance', 'hit'}}} means in percent, plus frame counts."""
    from mmreviosa.evaluation.functional import attention_grounding
    from mmreviosa.models.mllm.role_attention import RoleAttentionCapture
    from mmreviosa.models.segmentors.role_utils import (find_role_positions, visual_attention_maps,
                                                        visual_token_positions)
    mllm = model.mllm
    num_layers = mllm.model.config.text_config.num_hidden_layers
    tokens_per_frame = mllm.num_image_tokens
    grid = int(round(tokens_per_frame ** 0.5))
    roles = ['seg'] if model.num_roles == 1 else ['actor', 'target']
    sums = {r: {k: np.zeros(num_layers) for k in ('share', 'chance', 'hit')} for r in roles}
    counts = {r: 0 for r in roles}
    num_items = min(num_items, len(dataset))
    bar = ProgressBar(num_items)
    for start in range(0, num_items, batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size, num_items))]
        data = model.data_preprocessor(pseudo_collate(items), True)
        inputs, samples = data['inputs'], data['data_samples']
        positions, found = find_role_positions(inputs['input_ids'], model.role_ids)
        num_key = inputs['num_key_frames'][0]
        with torch.no_grad(), RoleAttentionCapture(layers=list(range(num_layers)),
                                                   query_positions=positions) as capture:
            mllm(input_ids=inputs['input_ids'], attention_mask=inputs['attention_mask'],
                 pixel_values=inputs['mllm_pixels'])
        visual = visual_token_positions(inputs['input_ids'], mllm.image_token_id,
                                        [num_key * tokens_per_frame] * len(items))
        for r, role in enumerate(roles):
            masks = []
            for sample in samples:
                gt = sample.gt_target_masks if role == 'target' else sample.gt_actor_masks
                masks.append(gt[list(sample.key_frame_inds)].float())
            coverage = F.adaptive_avg_pool2d(torch.stack(masks).flatten(0, 1), (grid, grid))
            coverage = coverage.view(len(items), num_key, grid, grid)
            keep = found[:, r].clone()
            if role == 'target':
                keep &= torch.tensor([bool(s.has_interaction) for s in samples])
            for layer in range(num_layers):
                maps = visual_attention_maps(capture.attention[:, layer:layer + 1], visual,
                                             (num_key, grid, grid))[:, r]
                scores = attention_grounding(maps, coverage)
                valid = scores['valid'] & keep[:, None]
                for key in ('share', 'chance', 'hit'):
                    sums[role][key][layer] += float(scores[key][valid].sum())
                if layer == 0:
                    counts[role] += int(valid.sum())
        for _ in items:
            bar.update()
    sys.stdout.write('\n')
    result = {}
    for role in roles:
        n = max(counts[role], 1)
        result[role] = {str(layer): {k: 100 * sums[role][k][layer] / n for k in sums[role]}
                        for layer in range(num_layers)}
        result[role]['frames'] = counts[role]
    return result


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(int(os.environ.get('MMREVIOSA_NUM_THREADS', '1')))
    from mmreviosa.apis import init_model
    from mmreviosa.registry import DATASETS
    checkpoint = None if args.checkpoint == 'none' else args.checkpoint
    model = init_model(args.config, checkpoint, cfg_options=args.cfg_options)
    if not model.mllm.model.config.text_config._attn_implementation.startswith('reviosa'):
        raise SystemExit('the probe reads role-token attention: the config must use '
                         "attn_implementation='reviosa_sdpa' (or another registered one)")
    cfg = model.cfg
    dataset_cfg = cfg.train_dataloader.dataset.copy()
    dataset_cfg['pipeline'] = cfg.train_pipeline
    if args.data_root:
        dataset_cfg['data_root'] = args.data_root
    dataset = DATASETS.build(dataset_cfg)
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
