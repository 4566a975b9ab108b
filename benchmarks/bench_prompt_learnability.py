"""How fast a randomly initialised SAM2 head learns to follow each kind of prompt.

Trains the tiny config's SAM2 head alone (no MLLM) on InterShapes, the actor's
mask as target, from four kinds of oracle prompt, side by side on the same
batches:

(a) ``semantic``: one learned vector per (colour, shape) of the actor, taken from
    the annotation: a perfect role-token prompt that says *what* to segment;
(b) ``point``: SAM's point embedding of the actor's GT centroid in each frame
    (``SAM2Head.embed_points``): says *where*;
(c) ``both``: (a) + (b), what ``ReVIOSa(point_prompter=dict(type='AttentionPointPrompts'))``
    gives the decoder;
(d) ``semantic_film``: (a) into a head whose prompt adapter also scales and shifts every
    decoder input level by the prompt
    (:class:`~mmreviosa.models.training_aids.PromptFeatureModulation`).

Prints the training IoU (threshold 0, 64 x 64, mean over the last ``--window``
steps) of each every ``--log-every`` steps.  This is the measurement behind the
tiny config's point prompts: a decoder trained from scratch stays on a
prompt-independent mask for a long time under a semantic prompt alone, unless the
prompt modulates the features (d).

Usage::

    python tools/dataset_converters/make_intershapes.py --out data/intershapes \
        --num-videos 1000 --seed 0
    python benchmarks/bench_prompt_learnability.py --data-root data/intershapes/train
"""
import argparse
import json
import os.path as osp
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
CONFIG = osp.join(ROOT, 'configs', 'reviosa', 'reviosa_tiny_intershapes.py')
KINDS = ('semantic', 'point', 'both', 'semantic_film')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default='data/intershapes/train')
    parser.add_argument('--iters', type=int, default=900)
    parser.add_argument('--batch-size', type=int, default=8)
    parser.add_argument('--lr', type=float, default=2e-3)
    parser.add_argument('--log-every', type=int, default=100)
    parser.add_argument('--window', type=int, default=50)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='write the curves as JSON')
    return parser.parse_args(argv)


class Learner:
    """A SAM2 head (from the tiny config) with an embedding table for prompt (a)."""

    def __init__(self, kind: str, head_cfg: dict, seed: int, lr: float):
        from mmreviosa.registry import MODELS
        torch.manual_seed(seed)
        self.kind = kind
        film = dict(type='PromptFeatureModulation') if kind == 'semantic_film' else None
        self.head = MODELS.build(dict(head_cfg, prompt_adapter=film))
        self.head.train_point_embedding()
        self.head.train()
        self.codes = nn.Embedding(64, self.head.prompt_dim)
        nn.init.normal_(self.codes.weight)
        params = [p for p in self.head.parameters() if p.requires_grad]
        self.params = params + list(self.codes.parameters())
        self.optimizer = torch.optim.AdamW(self.params, lr=lr, weight_decay=0.01)

    def step(self, pixels, codes, points, gt) -> float:
        prompts = torch.zeros(len(gt), self.head.prompt_dim)
        if self.kind in ('semantic', 'both', 'semantic_film'):
            prompts = prompts + self.codes(codes)
        if self.kind in ('point', 'both'):
            prompts = prompts + self.head.embed_points(points)
        logits = self.head.decode(self.head.extract_features(pixels), prompts[:, None])
        loss = sum(self.head.loss(logits, gt, torch.ones(len(gt), 1)).values())
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        with torch.no_grad():
            pred = F.interpolate(logits, size=gt.shape[-2:], mode='bilinear') > 0
            truth = gt > 0.5
            inter = (pred & truth).sum((1, 2, 3)).float()
            union = (pred | truth).sum((1, 2, 3)).float().clamp(min=1)
        return float((inter / union).mean())


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(1)
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope

    from mmreviosa.builders.intershapes import SHAPES
    from mmreviosa.models.training_aids import mask_centroids
    from mmreviosa.registry import DATASETS, MODELS
    from mmreviosa.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    init_default_scope('mmreviosa')
    cfg = Config.fromfile(CONFIG)
    with open(osp.join(args.data_root, 'meta_expressions.json')) as f:
        videos = json.load(f)['videos']
    dataset = DATASETS.build(dict(type='InterRVOSDataset', data_root=args.data_root,
                                  pipeline=cfg.train_pipeline))
    preprocessor = MODELS.build(dict(type='InterRVOSDataPreprocessor'))
    colors = {}
    learners = {k: Learner(k, cfg.model.sam2_head.to_dict(), args.seed, args.lr) for k in KINDS}
    rng = np.random.default_rng(args.seed)
    np.random.seed(args.seed)
    recent = {k: [] for k in KINDS}
    curves = {k: [] for k in KINDS}
    start = time.time()
    widths = {k: max(9, len(k)) for k in KINDS}
    print(f'{"step":>6} ' + ' '.join(f'{k:>{widths[k]}}' for k in KINDS)
          + '   (training IoU, actor)')
    for step in range(1, args.iters + 1):
        items = [dataset[int(i)] for i in rng.integers(0, len(dataset), args.batch_size)]
        data = preprocessor(pseudo_collate(items), True)
        samples = data['data_samples']
        gt = torch.cat([s.gt_actor_masks.float() for s in samples])[:, None]
        codes = []
        for s in samples:
            desc = videos[s.video_id]['expressions'][s.exp_id]['actor_desc']
            color = colors.setdefault(desc['color'], len(colors))
            codes += [color * len(SHAPES) + SHAPES.index(desc['shape'])] * len(s.frame_inds)
        points, _ = mask_centroids(gt[:, 0] > 0.5)
        for kind, learner in learners.items():
            recent[kind].append(learner.step(data['inputs']['sam_pixels'], torch.tensor(codes),
                                             points, gt))
            recent[kind] = recent[kind][-args.window:]
        if step % args.log_every == 0 or step == args.iters:
            means = {k: float(np.mean(v)) for k, v in recent.items()}
            for k in KINDS:
                curves[k].append((step, means[k]))
            print(f'{step:>6} ' + ' '.join(f'{means[k]:>{widths[k]}.3f}' for k in KINDS)
                  + f'   {time.time() - start:.0f} s', flush=True)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(curves, f, indent=2)


if __name__ == '__main__':
    main()
