"""Mixed precision by module: frozen weights in bf16, trained modules in float32."""
from typing import Any, Union

import torch
from torch import nn

__all__ = ['compute_in_float32', 'module_dtype', 'parse_dtype']


def parse_dtype(dtype: Union[str, torch.dtype, None]) -> torch.dtype:
    """'float32' / 'fp32' / 'bfloat16' / 'bf16' / 'float16' / 'fp16', a dtype, or None (float32)."""
    names = dict(float32=torch.float32, fp32=torch.float32, bfloat16=torch.bfloat16,
                 bf16=torch.bfloat16, float16=torch.float16, fp16=torch.float16)
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype or torch.float32
    if dtype not in names:
        raise ValueError(f'dtype must be one of {list(names)}, got {dtype!r}')
    return names[dtype]


def module_dtype(module: nn.Module) -> torch.dtype:
    """The dtype of the first floating-point parameter (float32 for none)."""
    for param in module.parameters():
        if param.is_floating_point():
            return param.dtype
    return torch.float32


def _cast_floats(value: Any, dtype: torch.dtype) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(dtype) if value.is_floating_point() else value
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_floats(v, dtype) for v in value)
    if isinstance(value, dict):
        return {k: _cast_floats(v, dtype) for k, v in value.items()}
    return value


def compute_in_float32(module: nn.Module) -> nn.Module:
    """Keep ``module`` in float32 inside a half-precision model, in place.

    An optimizer needs float32 master weights: AdamW steps on bf16 weights
    lose updates smaller than 1/256 of a weight. Its floating inputs are cast
    to its weights' dtype (float32, or bf16 once DeepSpeed's bf16 mode has cast
    every module) and its floating outputs back to the dtype of its first
    floating input, so the module fits between bf16 neighbours with or without
    autocast (MMEngine's test loop runs without it). Under autocast the
    module still computes in the autocast dtype, from float32 weights.

    Args:
        module: a trained submodule of a model loaded in bf16 / fp16.

    Returns:
        The same module.
    """
    module.float()

    def cast_inputs(mod, args, kwargs):
        dtypes = [a.dtype for a in (*args, *kwargs.values())
                  if isinstance(a, torch.Tensor) and a.is_floating_point()]
        mod._outer_dtype = dtypes[0] if dtypes else None
        # The module's own dtype, not float32: DeepSpeed's bf16 mode casts it to bf16.
        own = module_dtype(mod)
        return _cast_floats(args, own), _cast_floats(kwargs, own)

    def cast_outputs(mod, args, kwargs, output):
        outer = getattr(mod, '_outer_dtype', None)
        return output if outer is None else _cast_floats(output, outer)

    module.register_forward_pre_hook(cast_inputs, with_kwargs=True)
    module.register_forward_hook(cast_outputs, with_kwargs=True)
    return module
