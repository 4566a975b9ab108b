"""Which LLM layers and heads should the Attention Mask Loss supervise?

The paper chose its AML layers (21-23 of InternVL-2.5-1B's 24) where the referring
phrase's attention concentrates on the referent's visual tokens.  This tool measures
that for any config: it runs the model teacher-forced on items of a split and, for every
LLM layer and head, takes the query's attention over each key frame's visual tokens
(renormalised per frame, as the AML sees it) and compares it with the GT object:

    concentration = (attention share on the patches the mask touches)
                    / (the share of the patches the mask touches)

summed over the frames where the object is visible (ratio of sums, so tiny objects do not
dominate).  Uniform attention scores 1; attention only on the object scores 1 / its share.
The masks are area-averaged onto the patch grid as the AML does, and the share comes from
``tools/analysis_tools/probe_role_attention.py``'s measurement.

Queries (``--query``):

* ``role`` (default with a checkpoint): the role tokens of the teacher-forced answer,
  [SEG_ACT] against the actor and [SEG_TAR] against the target (expressions with an
  interaction only), pooled;
* ``phrase`` (default without one, i.e. before fine-tuning, when no role token is trained):
  the expression's tokens in the prompt, their attention rows averaged, against the actor
  (the referent).

It prints a layer x head table of concentrations with two per-layer columns, ``mean``
(of the heads' concentrations) and ``all`` (the concentration of the head-averaged
attention, what the AML supervises when ``aml_heads`` is None), ranks layers by ``all``
and (layer, head) pairs by their own value, and writes a config snippet::

    aml_layers = [...]   # the top-k layers
    aml_heads = [...]    # the heads of the top-k (layer, head) pairs

Example (no weights of the 4B model here; this is how its layers would be measured)::

    python tools/analysis_tools/select_aml_layers.py configs/reviosa/reviosa_4b.py \\
        --data-root data/interrvos/valid --query phrase --out work_dirs/aml_4b.py
"""
import argparse
import os
import os.path as osp
import sys

import numpy as np
import torch
from mmengine.config import DictAction
from terminaltables import AsciiTable

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(osp.dirname(HERE))
for path in (ROOT, HERE):
    if path not in sys.path:
        sys.path.insert(0, path)

from probe_role_attention import (capture_all_layers, grounding_sums,  # noqa: E402
                                  key_frame_coverage, model_and_training_items,
                                  teacher_forced_batches,
                                  visual_positions_of)

QUERIES = ('role', 'phrase')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Select the AML layers and heads by how the '
                                     "query's attention concentrates on the GT object")
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='fine-tuned weights; omitted (or "none"): the config\'s model')
    parser.add_argument('--data-root', required=True, help='a split folder')
    parser.add_argument('--num-items', type=int, default=64)
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--top-k', type=int, default=3)
    parser.add_argument('--query', choices=QUERIES,
                        help='default: "role" with a checkpoint, "phrase" without')
    parser.add_argument('--seed', type=int, default=0, help='seed of the frame sampling')
    parser.add_argument('--out', help='write the config snippet here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def find_conversation(dataset):
    """The dataset's TokenizeConversation transform (its tokenizer and question mode)."""
    for transform in dataset.pipeline.transforms:
        if type(transform).__name__ == 'TokenizeConversation':
            return transform
    raise ValueError('--query phrase needs a TokenizeConversation transform in the pipeline '
                     'to find the expression in the prompt')


def _find_last(sequence: list, part: list) -> int:
    """Start of the last occurrence of ``part`` in ``sequence``, or -1."""
    for start in range(len(sequence) - len(part), -1, -1):
        if sequence[start:start + len(part)] == part:
            return start
    return -1


def phrase_positions(input_ids: torch.Tensor, data_samples, conversation):
    """Positions of the expression's tokens in each prompt.

    The question (which ends with the expression) is tokenised alone with character
    offsets and found in the sequence, so the chat template around it does not matter;
    the tokens overlapping the expression's characters are the phrase.

    Returns:
        positions (Tensor): (B, W) long, rows padded with the first phrase position.
        valid (Tensor): (B, W) bool, False on the padding.
    """
    from mmreviosa.text import build_question
    rows = []
    for b, sample in enumerate(data_samples):
        where = f'video {sample.video_id} expression {sample.exp_id}'
        expression = sample.expression.strip().rstrip('.')
        question = sample.metainfo.get('question') or build_question(conversation.mode,
                                                                     expression)
        try:
            encoded = conversation.tokenizer(question, add_special_tokens=False,
                                             return_offsets_mapping=True)
        except NotImplementedError as error:
            raise ValueError('--query phrase needs a fast tokenizer (character offsets)') \
                from error
        ids, offsets = encoded['input_ids'], encoded['offset_mapping']
        sequence = input_ids[b].tolist()
        # The first token may merge with what precedes the question in the prompt.
        skip = 0
        start = _find_last(sequence, ids)
        if start < 0:
            skip = 1
            start = _find_last(sequence, ids[1:])
        if start < 0:
            raise ValueError(f'{where}: the tokens of the question {question!r} are not in '
                             'the sequence')
        begin = question.rindex(expression)
        end = begin + len(expression)
        row = [start + i - skip for i, (s, e) in enumerate(offsets)
               if i >= skip and e > s and s < end and e > begin]
        if not row:
            raise ValueError(f'{where}: no token of the expression {expression!r} found')
        rows.append(row)
    width = max(len(row) for row in rows)
    positions = torch.tensor([row + [row[0]] * (width - len(row)) for row in rows])
    valid = torch.tensor([[True] * len(row) + [False] * (width - len(row)) for row in rows])
    return positions.to(input_ids.device), valid.to(input_ids.device)


def measure(model, dataset, query: str, num_items: int, batch_size: int) -> dict:
    """Concentration of the query's attention on the GT object, per LLM layer and head.

    Returns:
        dict: ``concentration``, ``share``, ``chance``: (n_layers, n_heads + 1) float64
        arrays, the last column being the head-averaged attention (share and chance are
        means over the frames, concentration their ratio); ``frames``: frames scored.
    """
    from mmreviosa.models.segmentors.role_utils import find_role_positions
    if query not in QUERIES:
        raise ValueError(f'query must be one of {QUERIES}, got {query!r}')
    grid = int(round(model.mllm.num_image_tokens ** 0.5))
    roles = ['seg'] if model.num_roles == 1 else ['actor', 'target']
    conversation = find_conversation(dataset) if query == 'phrase' else None
    totals = dict(share=0.0, chance=0.0)
    frames = 0
    for inputs, samples in teacher_forced_batches(model, dataset, num_items, batch_size):
        visual = visual_positions_of(model, inputs)
        if query == 'role':
            positions, keep = find_role_positions(inputs['input_ids'], model.role_ids)
            attention = capture_all_layers(model, inputs, positions)
            coverage = torch.stack([key_frame_coverage(samples, role, grid) for role in roles], 1)
            if len(roles) == 2:
                keep[:, 1] &= torch.tensor([bool(s.has_interaction) for s in samples],
                                           device=keep.device)
        else:
            positions, valid = phrase_positions(inputs['input_ids'], samples, conversation)
            attention = capture_all_layers(model, inputs, positions)
            weights = valid.float() / valid.sum(dim=1, keepdim=True)
            attention = (attention * weights[:, None, None, :, None]).sum(dim=3, keepdim=True)
            coverage = key_frame_coverage(samples, 'actor', grid)[:, None]
            keep = torch.ones(len(samples), 1, dtype=torch.bool)
        sums = grounding_sums(attention, visual, coverage.to(attention.device), keep,
                              per_head=True)
        for key in totals:
            totals[key] = totals[key] + sums[key].cpu().numpy()
        frames += sums['frames']
    if frames == 0:
        raise ValueError(f'no frame of the first {num_items} items shows a queried object')
    share, chance = totals['share'] / frames, totals['chance'] / frames
    return dict(concentration=share / chance, share=share, chance=chance, frames=frames)


def select(concentration: np.ndarray, top_k: int) -> dict:
    """Top-k layers (by the head-averaged attention) and (layer, head) pairs.

    Args:
        concentration: (n_layers, n_heads + 1), the last column the head-averaged attention.

    Returns:
        dict: ``layers`` (ascending), ``pairs`` (best first), ``heads`` (the pairs' heads,
        ascending).
    """
    num_layers, num_heads = concentration.shape[0], concentration.shape[1] - 1
    layer_order = sorted(range(num_layers), key=lambda layer: -concentration[layer, -1])
    pairs = sorted(((layer, head) for layer in range(num_layers) for head in range(num_heads)),
                   key=lambda pair: -concentration[pair])
    pairs = pairs[:top_k]
    return dict(layers=sorted(layer_order[:top_k]), layer_order=layer_order[:top_k],
                pairs=pairs, heads=sorted({head for _, head in pairs}))


def format_table(concentration: np.ndarray, selection: dict) -> str:
    """Layer x head concentrations; top pairs marked *, top layers marked * on ``all``."""
    num_layers, num_heads = concentration.shape[0], concentration.shape[1] - 1
    top_pairs = selection['pairs']
    rows = [['layer'] + [f'h{h}' for h in range(num_heads)] + ['mean', 'all']]
    for layer in range(num_layers):
        cells = [f'{concentration[layer, h]:.3f}' + ('*' if (layer, h) in top_pairs else '')
                 for h in range(num_heads)]
        cells.append(f'{concentration[layer, :-1].mean():.3f}')
        top_layer = '*' if layer in selection['layers'] else ''
        cells.append(f'{concentration[layer, -1]:.3f}{top_layer}')
        rows.append([str(layer)] + cells)
    return AsciiTable(rows).table


def format_snippet(result: dict, selection: dict, provenance: str) -> str:
    """A config snippet that ``mmengine.Config.fromfile`` reads."""
    concentration = result['concentration']
    layers = ', '.join(f'{layer} ({concentration[layer, -1]:.2f})'
                       for layer in selection['layer_order'])
    pairs = ', '.join(f'({layer}, {head}) {concentration[layer, head]:.2f}'
                      for layer, head in selection['pairs'])
    return (f'# Measured by tools/analysis_tools/select_aml_layers.py ({provenance}).\n'
            '# concentration = attention share on the GT object\'s patches / their share of '
            'the patches (uniform = 1)\n'
            f'# best layers (head-averaged attention): {layers}\n'
            f'# best (layer, head): {pairs}\n'
            f'aml_layers = {selection["layers"]}\n'
            '# the heads of the best pairs; ReVIOSa captures them in every aml layer '
            '(None: all heads)\n'
            f'aml_heads = {selection["heads"]}\n')


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(int(os.environ.get('MMREVIOSA_NUM_THREADS', '1')))
    checkpoint = None if args.checkpoint in (None, 'none') else args.checkpoint
    query = args.query or ('role' if checkpoint else 'phrase')
    model, dataset = model_and_training_items(
        args.config, checkpoint, args.data_root, args.cfg_options,
        'select_aml_layers reads attention rows')
    np.random.seed(args.seed)
    result = measure(model, dataset, query, args.num_items, args.batch_size)
    selection = select(result['concentration'], args.top_k)
    print(f'concentration of the {query} query\'s attention on the GT object (uniform = 1), '
          f'{result["frames"]} frames; * = top {args.top_k}')
    print(format_table(result['concentration'], selection))
    print(f'top layers: {selection["layer_order"]}')
    print(f'top (layer, head): {selection["pairs"]}')
    provenance = (f'{osp.basename(args.config)}, checkpoint {checkpoint or "none"}, '
                  f'{args.data_root}, {min(args.num_items, len(dataset))} items, '
                  f'{result["frames"]} frames, query {query}')
    snippet = format_snippet(result, selection, provenance)
    print(snippet, end='')
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            f.write(snippet)
    return dict(result, query=query, **selection)


if __name__ == '__main__':
    main()
