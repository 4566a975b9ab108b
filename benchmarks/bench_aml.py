"""Cost of the Attention Mask Loss: selective role rows vs eager maps vs none.

Runs one training step (forward + backward of LM loss [+ AML]) of a tiny
Qwen2 LLM fed ``inputs_embeds`` for a clip of ``--frames`` x
``--tokens-per-frame`` visual tokens plus a short text, three ways:

(a) ``selective``: SDPA model, role rows captured by
    ``RoleAttentionCapture`` (mmreviosa.models.mllm.role_attention);
(b) ``eager``: eager model with ``output_attentions=True``, role rows cut out
    of the full ``(B, heads, L, L)`` maps;
(c) ``none``: SDPA model, LM loss only.

Memory: each variant runs in a fresh subprocess with
``MALLOC_MMAP_THRESHOLD_=65536`` (glibc then serves every tensor above 64 KiB
with mmap and unmaps it on free, so the resident set follows live memory).
After a warm-up step the kernel's peak-RSS counter is reset
(``/proc/self/clear_refs`` <- 5) and one step runs; the step's extra peak is
``VmHWM - VmRSS`` before the step.  "AML extra" is that minus (c)'s.  This
counts every byte the process touches (torch tensors, autograd buffers,
allocator slack), at page granularity.

Time: the three models share one process; steps are interleaved
(a, b, c, a, b, c, ...) so that load from other processes hits all alike;
medians are reported, of the process's CPU time (``time.process_time``, one
torch thread: the work done, barely affected by other processes on shared
cores) and of wall time.

Usage::

    python benchmarks/bench_aml.py [--frames 8] [--tokens-per-frame 256]
"""
import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from transformers import Qwen2Config, Qwen2ForCausalLM

from mmreviosa.models.losses.attention_mask_loss import AttentionMaskLoss
from mmreviosa.models.mllm.role_attention import RoleAttentionCapture, register_role_attention

VARIANTS = ('selective', 'eager', 'none')
TEXT_BEFORE, TEXT_AFTER, NUM_ROLES = 32, 32, 2


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--frames', type=int, default=8)
    parser.add_argument('--tokens-per-frame', type=int, default=256)
    parser.add_argument('--hidden-size', type=int, default=256)
    parser.add_argument('--num-layers', type=int, default=4)
    parser.add_argument('--heads', type=int, default=8)
    parser.add_argument('--kv-heads', type=int, default=2)
    parser.add_argument('--aml-layers', type=int, nargs='+', default=[1, 2, 3])
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--memory-only', choices=VARIANTS,
                        help='internal: measure one variant\'s memory')
    return parser.parse_args()


def build(args, variant):
    """Model and one batch; same weights for every variant (seeded)."""
    config = Qwen2Config(vocab_size=512, hidden_size=args.hidden_size,
                         intermediate_size=2 * args.hidden_size,
                         num_hidden_layers=args.num_layers,
                         num_attention_heads=args.heads,
                         num_key_value_heads=args.kv_heads)
    attn_impl = 'eager' if variant == 'eager' else register_role_attention()
    torch.manual_seed(0)
    model = Qwen2ForCausalLM._from_config(copy.deepcopy(config),
                                          attn_implementation=attn_impl)
    model.train()
    grid_side = int(round(args.tokens_per_frame**0.5))
    num_visual = args.frames * args.tokens_per_frame
    seq_len = TEXT_BEFORE + num_visual + TEXT_AFTER
    generator = torch.Generator().manual_seed(1)
    batch = dict(
        inputs_embeds=torch.randn(1, seq_len, args.hidden_size,
                                  generator=generator),
        labels=torch.randint(0, 512, (1, seq_len), generator=generator),
        visual_positions=torch.arange(TEXT_BEFORE,
                                      TEXT_BEFORE + num_visual)[None],
        role_positions=torch.tensor([[seq_len - 6, seq_len - 4]]),
        gt_masks=torch.rand(1, NUM_ROLES, args.frames, 64, 64,
                            generator=generator) > 0.7,
        grid=(args.frames, grid_side, grid_side))
    return model, batch


def train_step(model, batch, variant, layers, criterion):
    """Forward + backward; returns the loss value."""
    inputs = dict(inputs_embeds=batch['inputs_embeds'], use_cache=False)
    if variant == 'selective':
        with RoleAttentionCapture(layers, batch['role_positions']) as capture:
            logits = model(**inputs).logits
        role_attention = capture.attention
    elif variant == 'eager':
        outputs = model(**inputs, output_attentions=True)
        logits, positions = outputs.logits, batch['role_positions'][0]
        role_attention = torch.stack(
            [outputs.attentions[layer][:, :, positions] for layer in layers],
            1)
    else:
        logits = model(**inputs).logits
    loss = F.cross_entropy(logits.flatten(0, 1), batch['labels'].flatten())
    if variant != 'none':
        loss = loss + criterion(role_attention, batch['visual_positions'],
                                batch['gt_masks'], None, batch['grid'])
    loss.backward()
    model.zero_grad(set_to_none=True)
    return loss.item()


def kib(field):
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'{field} not in /proc/self/status')


def measure_memory(args):
    torch.set_num_threads(1)
    model, batch = build(args, args.memory_only)
    criterion = AttentionMaskLoss()
    train_step(model, batch, args.memory_only, args.aml_layers, criterion)
    with open('/proc/self/clear_refs', 'w') as clear_refs:
        clear_refs.write('5')  # reset VmHWM to the current RSS
    before = kib('VmRSS')
    train_step(model, batch, args.memory_only, args.aml_layers, criterion)
    print(json.dumps(dict(peak_extra_kib=kib('VmHWM') - before)))


def memory_of(variant):
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_='65536')
    command = [sys.executable, __file__, '--memory-only', variant
               ] + sys.argv[1:]
    result = subprocess.run(command, env=env, capture_output=True, text=True,
                            check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])[
        'peak_extra_kib'] / 1024


def main():
    args = parse_args()
    if args.memory_only:
        measure_memory(args)
        return
    torch.set_num_threads(1)
    peak_mib = {variant: memory_of(variant) for variant in VARIANTS}
    models = {variant: build(args, variant) for variant in VARIANTS}
    criterion = AttentionMaskLoss()
    cpu_seconds = {variant: [] for variant in VARIANTS}
    wall_seconds = {variant: [] for variant in VARIANTS}
    for step in range(args.steps + 1):
        for variant, (model, batch) in models.items():
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            train_step(model, batch, variant, args.aml_layers, criterion)
            if step > 0:  # step 0 warms up
                cpu_seconds[variant].append(time.process_time() - cpu_start)
                wall_seconds[variant].append(time.perf_counter() -
                                             wall_start)
    seq_len = models['none'][1]['inputs_embeds'].shape[1]
    print(f'tiny Qwen2: {args.num_layers} layers, hidden {args.hidden_size}, '
          f'{args.heads}/{args.kv_heads} heads; {args.frames} frames x '
          f'{args.tokens_per_frame} visual tokens, {seq_len} tokens; AML on '
          f'layers {args.aml_layers}; {args.steps} timed steps, 1 thread')
    cpu = {v: statistics.median(cpu_seconds[v]) for v in VARIANTS}
    wall = {v: statistics.median(wall_seconds[v]) for v in VARIANTS}
    extra = {v: peak_mib[v] - peak_mib['none'] for v in VARIANTS}
    print(f'{"variant":<26}{"step peak MiB":>14}{"AML extra MiB":>15}'
          f'{"CPU s":>8}{"vs (c)":>9}{"wall s":>8}{"vs (c)":>9}')
    names = {'selective': '(a) selective role rows',
             'eager': '(b) eager full maps', 'none': '(c) no AML'}
    for variant in VARIANTS:
        print(f'{names[variant]:<26}{peak_mib[variant]:>14.1f}'
              f'{extra[variant]:>15.2f}{cpu[variant]:>8.3f}'
              f'{cpu[variant] / cpu["none"] - 1:>+9.1%}{wall[variant]:>8.3f}'
              f'{wall[variant] / wall["none"] - 1:>+9.1%}')
    print(f'extra memory ratio (a)/(b): '
          f'{extra["selective"] / extra["eager"]:.4f} (goal <= 0.01)')
    print(f'step CPU time (a) over (c): '
          f'{cpu["selective"] / cpu["none"] - 1:+.1%} (goal <= +5%)')


if __name__ == '__main__':
    main()
