"""Merge LoRA into a trained ReVIOSa and export weights that need no peft and no pickle.

Writes into OUT_DIR:
    mllm/          the merged MLLM in the native transformers layout (safetensors) with its
                   tokenizer (role tokens included): `InternVLForConditionalGeneration
                   .from_pretrained(OUT_DIR/mllm)` loads it
    reviosa.pth    every weight of the merged model (MLLM, projector, SAM2 head) as plain tensors,
                   plus the role-token ids: `torch.load(path, weights_only=True)` reads it; load it
                   into the same config with `model.mllm.lora=None` and
                   `model.mllm.freeze_llm=False` (no adapters: they are merged).

Example:
    python tools/model_converters/export_reviosa.py configs/reviosa/reviosa_1b.py \
        work_dirs/reviosa_1b/epoch_10.pth exports/reviosa_1b
"""
import argparse
import os
import os.path as osp

import torch


def parse_args():
    parser = argparse.ArgumentParser(description='Merge LoRA and export ReVIOSa weights')
    parser.add_argument('config', help='training config')
    parser.add_argument('checkpoint', help='checkpoint written by training')
    parser.add_argument('out_dir', help='output folder')
    parser.add_argument('--dtype', choices=['float32', 'bfloat16', 'float16'], default=None,
                        help='cast floating-point weights (default: keep)')
    return parser.parse_args()


def export(config: str, checkpoint: str, out_dir: str, dtype: str = None) -> str:
    """Merge and export; returns the path of ``reviosa.pth``."""
    from mmreviosa.apis import init_model
    model = init_model(config, checkpoint, device='cpu')
    native = model.mllm.merge_lora()
    os.makedirs(out_dir, exist_ok=True)
    cast = getattr(torch, dtype) if dtype else None
    if cast is not None:
        model.to(cast)
    native.save_pretrained(osp.join(out_dir, 'mllm'), safe_serialization=True)
    model.mllm.tokenizer.save_pretrained(osp.join(out_dir, 'mllm'))
    # Tensors, plus the checkpoint facts (plain data) that loading compares with the config.
    state = {k: v.detach().clone().contiguous() if torch.is_tensor(v) else v
             for k, v in model.state_dict().items()}
    path = osp.join(out_dir, 'reviosa.pth')
    torch.save(dict(state_dict=state, role_token_ids=dict(model.mllm.role_token_ids)), path)
    return path


def main():
    args = parse_args()
    path = export(args.config, args.checkpoint, args.out_dir, args.dtype)
    # Prove the promise: the file loads with the safe loader.
    torch.load(path, weights_only=True)
    print(f'exported {path} and {osp.join(args.out_dir, "mllm")}')


if __name__ == '__main__':
    main()
