"""Throughput and memory of the real ReVIOSa-1B / 4B configs, on random weights.

For each config: builds the model of the config at the published architecture
(InternVL-2.5 from its preset with a Qwen2.5-style tokenizer, SAM2.1 Hiera-L,
random weights, bf16 where the config says so, built on the device), runs
``--train-iters`` training steps of the config's recipe on generated
InterShapes items (the config's train pipeline and batch size, its optimizer
through MMEngine's ``build_optim_wrapper``; one optimizer step per batch), then
tests ``inference_video`` (the config's test pipeline) on random videos of
``--test-frames`` lengths with the answer forced to both role tokens, so that
every frame is segmented for two roles.

Prints step time (median of the steps after the first), expressions/s (every turn of
a packed item counts), tokens/s (non-padding tokens of the batch), peak memory of
training, and per
test video the time, frames/s and peak memory. Peak memory is
``torch.cuda.max_memory_allocated`` on a GPU, the process's peak RSS
(``VmHWM`` after a reset) on a CPU.

One command on one GPU (about 5 minutes on an H200)::

    python benchmarks/bench_real_scale.py

On a CPU, with fewer layers (the widths stay real)::

    python benchmarks/bench_real_scale.py --device cpu --configs reviosa_1b \\
        --llm-layers 4 --vision-layers 2 --train-iters 2 --test-frames 16
"""
import argparse
import contextlib
import json
import os
import os.path as osp
import statistics
import sys
import tempfile
import time

import numpy as np
import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
BOTH_ROLES = 'Sure, it is [SEG_ACT] and [SEG_TAR].<|im_end|>'
PRESETS = {'reviosa_1b': 'internvl2_5_1b', 'reviosa_4b': 'internvl2_5_4b'}
GIB = 2 ** 30


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--configs', nargs='+', default=['reviosa_1b', 'reviosa_4b'],
                        choices=sorted(PRESETS))
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--train-iters', type=int, default=4)
    parser.add_argument('--test-frames', type=int, nargs='+', default=[16, 128])
    parser.add_argument('--llm-layers', type=int, help='fewer LLM layers (default: published)')
    parser.add_argument('--vision-layers', type=int, help='fewer vision layers')
    parser.add_argument('--threads', type=int, default=None, help='torch threads on a CPU')
    parser.add_argument('--out', help='also write the figures as JSON')
    return parser.parse_args()


@contextlib.contextmanager
def peak_memory(device: torch.device, result: dict):
    """Peak memory (GiB) of the block into ``result['peak_gib']``."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        yield
        torch.cuda.synchronize(device)
        result['peak_gib'] = torch.cuda.max_memory_allocated(device) / GIB
        return
    with open('/proc/self/clear_refs', 'w') as f:  # reset VmHWM to the current RSS
        f.write('5')
    yield
    with open('/proc/self/status') as f:
        fields = dict(line.split(':', 1) for line in f)
    result['peak_gib'] = int(fields['VmHWM'].split()[0]) * 1024 / GIB


def _sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def build_config(name: str, args, tokenizer_dir: str, data_root: str):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'reviosa', f'{name}.py'))
    tokenizer = dict(type='build_role_tokenizer', tokenizer=tokenizer_dir)
    mllm_config = dict(preset=PRESETS[name])
    if args.llm_layers:
        mllm_config['text'] = dict(num_hidden_layers=args.llm_layers)
        cfg.model.aml_layers = [i for i in cfg.model.aml_layers if i < args.llm_layers] or \
            list(range(max(0, args.llm_layers - 3), args.llm_layers))
    if args.vision_layers:
        mllm_config['vision'] = dict(num_hidden_layers=args.vision_layers)
    cfg.model.mllm.update(pretrained=None, config=mllm_config, tokenizer=tokenizer)
    cfg.model.sam2_head.checkpoint = None
    for pipeline in (cfg.train_pipeline, cfg.test_pipeline):
        for transform in pipeline:
            if transform['type'] == 'TokenizeConversation':
                transform['tokenizer'] = tokenizer
    cfg.train_dataloader.dataset.update(data_root=data_root, pipeline=cfg.train_pipeline)
    cfg.test_dataloader.dataset.update(pipeline=cfg.test_pipeline)
    if args.device == 'cpu':  # MMEngine's AmpOptimWrapper needs a GPU
        optimizer = cfg.optim_wrapper.optimizer
        cfg.optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer,
                                 clip_grad=cfg.optim_wrapper.get('clip_grad'))
    cfg.optim_wrapper.accumulative_counts = 1
    return cfg


def count_expressions(batch) -> int:
    """Expressions a collated batch supervises: every turn of a packed item counts."""
    from mmreviosa.structures import PackedDataSamples
    return sum(len(s) if isinstance(s, PackedDataSamples) else 1
               for s in batch['data_samples'])


def train_figures(model, cfg, device, num_iters: int) -> dict:
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import build_optim_wrapper

    from mmreviosa.registry import DATASETS
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch_size = cfg.train_dataloader.batch_size
    batches = [pseudo_collate([dataset[(i * batch_size + j) % len(dataset)]
                               for j in range(batch_size)]) for i in range(num_iters)]
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    times, tokens, expressions, result = [], [], [], {}
    with peak_memory(device, result):
        for batch in batches:
            inputs = batch['inputs']  # pseudo_collate: a dict of per-item lists
            tokens.append(sum(len(ids) for ids in inputs['input_ids']))
            expressions.append(count_expressions(batch))
            _sync(device)
            start = time.perf_counter()
            losses = model.train_step(batch, optim_wrapper)
            _sync(device)
            times.append(time.perf_counter() - start)
    timed = times[1:] or times
    step = statistics.median(timed)
    return dict(step_s=step, first_step_s=times[0], batch_size=batch_size,
                expressions_per_s=statistics.median(expressions[1:] or expressions) / step,
                tokens_per_s=statistics.median(tokens[1:] or tokens) / step,
                train_peak_gib=result['peak_gib'],
                loss=float(losses['loss'].detach()))  # the total of the last step


def test_figures(model, num_frames: int, device) -> dict:
    from mmreviosa.apis import inference_video
    model.eval()
    model.test_cfg['force_answer'] = BOTH_ROLES
    rng = np.random.default_rng(num_frames)
    frames = list(rng.integers(0, 256, size=(num_frames, 480, 854, 3), dtype=np.uint8))
    result = {}
    with peak_memory(device, result):
        _sync(device)
        start = time.perf_counter()
        prediction = inference_video(model, frames, 'the red ball pushing the blue box')
        _sync(device)
        seconds = time.perf_counter() - start
    assert prediction.actor_masks.shape[0] == num_frames
    return dict(frames=num_frames, seconds=seconds, frames_per_s=num_frames / seconds,
                peak_gib=result['peak_gib'])


def set_up(threads=None) -> None:
    """Import mmreviosa from this checkout, register its modules, set torch's CPU threads."""
    sys.path.insert(0, REPO)
    from mmreviosa.utils import register_all_modules
    register_all_modules()
    if threads:
        torch.set_num_threads(threads)


def main():
    args = parse_args()
    set_up(args.threads)
    from mmreviosa.apis import init_model
    from mmreviosa.builders.intershapes import generate_split
    from mmreviosa.testing.published_layouts import write_qwen2_5_tokenizer
    device = torch.device(args.device)
    report = dict(device=torch.cuda.get_device_name(device) if device.type == 'cuda'
                  else f'cpu ({torch.get_num_threads()} threads)', configs={})
    with tempfile.TemporaryDirectory() as tmp:
        # A Qwen2.5-style tokenizer with the published ids (its weights are not used).
        tokenizer_dir = osp.join(tmp, 'tokenizer')
        os.makedirs(tokenizer_dir)
        write_qwen2_5_tokenizer(tokenizer_dir)
        generate_split(tmp, 'train', num_videos=4, seed=0, progress=False)
        for name in args.configs:
            cfg = build_config(name, args, tokenizer_dir, osp.join(tmp, 'train'))
            start = time.perf_counter()
            with torch.device(device):
                model = init_model(cfg, device=args.device)
            figures = dict(build_s=time.perf_counter() - start,
                           params_m=sum(p.numel() for p in model.parameters()) / 1e6)
            figures.update(train_figures(model, cfg, device, args.train_iters))
            figures['test'] = [test_figures(model, t, device) for t in args.test_frames]
            report['configs'][name] = figures
            print(f'\n{name} on {report["device"]}: {figures["params_m"]:.1f}M parameters, '
                  f'built in {figures["build_s"]:.0f} s')
            print(f'  train: {figures["step_s"]:.2f} s/step (first {figures["first_step_s"]:.1f}'
                  f' s), batch {figures["batch_size"]}, {figures["expressions_per_s"]:.2f} '
                  f'expressions/s, {figures["tokens_per_s"]:.0f} tokens/s, peak '
                  f'{figures["train_peak_gib"]:.1f} GiB')
            for test in figures['test']:
                print(f'  test T={test["frames"]:>4}: {test["seconds"]:.1f} s, '
                      f'{test["frames_per_s"]:.1f} frames/s, peak {test["peak_gib"]:.1f} GiB')
            del model
            if device.type == 'cuda':
                torch.cuda.empty_cache()
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)
    return report


if __name__ == '__main__':
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    main()
