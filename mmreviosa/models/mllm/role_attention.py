"""Selective capture of the role tokens' attention rows inside an SDPA/FA2 LLM.

The Attention Mask Loss needs, for a few layers, the softmax attention of the
role-token queries ([SEG_ACT], [SEG_TAR]) over the whole sequence.  Asking the
model for ``output_attentions=True`` forces the eager implementation, which
materialises every layer's ``(B, heads, L, L)`` map (about 1 GB of activations
at 2k tokens for a 1B model).  Instead we register an attention function that
runs the stock kernel (SDPA or FlashAttention-2) unchanged and, only for the
layers a :class:`RoleAttentionCapture` asks for, also computes
``softmax(q_role K^T * scaling + mask)`` for the R role rows from the same
post-RoPE queries and keys: ``(B, heads, R, L)`` per layer.

Usage::

    attn_impl = register_role_attention('sdpa')       # 'reviosa_sdpa'
    model = InternVLForConditionalGeneration._from_config(
        copy.deepcopy(cfg), attn_implementation=attn_impl)
    with RoleAttentionCapture(layers=[21, 22, 23],
                              query_positions=role_positions,   # (B, R)
                              model=model.model.language_model) as cap:
        out = model(..., use_cache=False)
        role_attention = cap.attention                # (B, 3, heads, R, L)

Facts a caller relies on:

* Both ``AttentionInterface`` and ``AttentionMaskInterface`` get the new name;
  without the latter transformers builds no mask at all for an unknown name,
  and padding would be silently ignored.
* ``_from_config(cfg, attn_implementation=...)`` writes the name into ``cfg``
  in place: pass a copy if the config is reused.
* Gradient checkpointing must use ``use_reentrant=False``.  The reentrant
  variant runs the layer forward under ``no_grad``, so the captured rows would
  carry no gradient; the capture raises an error in that case.  The role-row
  computation keeps its own few small saved tensors (the role queries, the
  layer's keys and the ``(B, heads, R, L)`` probabilities) out of the
  checkpoint, so backward may run inside or outside the ``with`` block.
* Role positions are absolute indices into the sequence the LLM sees (after
  the image-context tokens were spliced in), and the forward must run without
  a pre-filled KV cache (``use_cache=False`` in training).
* The rows are the pre-dropout probabilities, computed in at least float32
  (float64 stays float64), like eager attention's softmax.
"""
from contextlib import nullcontext
from typing import Callable, Dict, List, Optional, Sequence

import torch
from torch import nn
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS, AttentionInterface

ROLE_ATTENTION_PREFIX = 'reviosa_'
SUPPORTED_BASES = ('sdpa', 'flash_attention_2')

# Innermost active capture last; forward passes see only the innermost one.
# Module-level, so a capture covers forwards run in the thread that opened
# it and the autograd engine (not nn.DataParallel replica threads).
_ACTIVE_CAPTURES: List['RoleAttentionCapture'] = []


def _keep_saved_tensor(tensor: torch.Tensor) -> torch.Tensor:
    return tensor


def _role_rows_saved_tensor_hooks():
    """Keep the role-row tensors saved for backward out of checkpointing.

    Saved-tensor hooks nest: the innermost pair handles a save.  Identity
    hooks make autograd store these few small tensors as usual, so the
    checkpoint neither drops them nor expects to recompute them, and a
    recomputation that skips the role rows stays consistent.
    """
    return torch.autograd.graph.saved_tensors_hooks(_keep_saved_tensor,
                                                    _keep_saved_tensor)


def _split_scaling(args: tuple, kwargs: dict) -> Optional[float]:
    # Both stock functions take (dropout, scaling, ...) after the mask.
    if 'scaling' in kwargs:
        return kwargs['scaling']
    return args[1] if len(args) > 1 else None


def _make_attention_forward(base_forward: Callable) -> Callable:
    """Wrap a stock attention function with the role-row capture."""

    def role_attention_forward(module: nn.Module, query: torch.Tensor,
                               key: torch.Tensor, value: torch.Tensor,
                               attention_mask: Optional[torch.Tensor],
                               *args, **kwargs):
        capture = _ACTIVE_CAPTURES[-1] if _ACTIVE_CAPTURES else None
        if capture is not None and capture.wants(module):
            capture.record(
                module, query, key, attention_mask,
                scaling=_split_scaling(args, kwargs),
                sliding_window=kwargs.get('sliding_window'))
        return base_forward(module, query, key, value, attention_mask,
                            *args, **kwargs)

    return role_attention_forward


def register_role_attention(base: str = 'sdpa') -> str:
    """Register the capturing attention implementation built on ``base``.

    Idempotent.  FlashAttention-2 needs the ``flash_attn`` package.

    Args:
        base (str): The stock implementation to run, ``'sdpa'`` or
            ``'flash_attention_2'``.

    Returns:
        str: The name to pass as ``attn_implementation`` to
        ``from_pretrained`` / ``_from_config`` (``'reviosa_sdpa'`` or
        ``'reviosa_flash_attention_2'``).
    """
    if base not in SUPPORTED_BASES:
        raise ValueError(f'register_role_attention: base must be one of '
                         f'{SUPPORTED_BASES}, got {base!r}')
    if base == 'flash_attention_2':
        try:
            import flash_attn  # noqa: F401
        except ImportError as error:
            raise ImportError(
                'register_role_attention: base="flash_attention_2" needs the '
                'flash_attn package; use base="sdpa" without it') from error
    name = ROLE_ATTENTION_PREFIX + base
    if name not in ALL_ATTENTION_FUNCTIONS.valid_keys():
        AttentionInterface.register(
            name, _make_attention_forward(ALL_ATTENTION_FUNCTIONS[base]))
        # Without a mask function transformers passes attention_mask=None.
        AttentionMaskInterface.register(name,
                                        ALL_MASK_ATTENTION_FUNCTIONS[base])
    return name


def _role_row_mask(attention_mask: Optional[torch.Tensor],
                   query_positions: torch.Tensor, kv_length: int,
                   sliding_window: Optional[int]) -> torch.Tensor:
    """Return the mask of the role rows as additive float or keep-bool.

    Args:
        attention_mask: What the attention function received: a 4-D mask
            ``(B|1, 1|heads, Q, K)`` (bool keep-mask from ``sdpa_mask`` or an
            additive float mask), a 2-D keep-mask ``(B, K)`` (FlashAttention
            path) or None (no padding: plain causal, possibly sliding).
        query_positions: ``(B, R)`` absolute role positions.
        kv_length: K, the number of keys.
        sliding_window: Window size of a sliding-window layer, else None.

    Returns:
        Tensor: ``(B, 1|heads, R, K)``; bool (True = attend) or float
        (added to the scores).
    """
    if attention_mask is not None and attention_mask.dim() == 4:
        rows_mask = attention_mask[..., :kv_length]
        batch_size, num_rows = query_positions.shape
        rows_mask = rows_mask.expand(batch_size, -1, -1, -1)
        index = query_positions[:, None, :, None].expand(
            -1, rows_mask.shape[1], -1, kv_length)
        return rows_mask.gather(2, index)
    key_positions = torch.arange(kv_length, device=query_positions.device)
    keep = key_positions[None, None, :] <= query_positions[:, :, None]
    if sliding_window is not None:
        keep = keep & (key_positions[None, None, :]
                       > query_positions[:, :, None] - sliding_window)
    if attention_mask is not None:
        keep = keep & attention_mask[:, None, :kv_length].bool()
    return keep[:, None]


class RoleAttentionCapture:
    """Capture the role-token attention rows of chosen LLM layers.

    Only attention modules that have a ``layer_idx`` and are causal
    (``module.is_causal``) are candidates, which excludes the InternVL vision
    tower; ``model`` narrows them further to one sub-model.  The model must
    use an implementation from :func:`register_role_attention`.

    Each call of a layer's attention replaces that layer's rows, so after a
    forward the rows belong to that forward (a checkpoint recomputation
    during backward recomputes equal rows).

    Args:
        layers (Sequence[int]): Layer indices (``module.layer_idx``) to
            capture, in the order of the output's layer axis.  Negative
            indices count from the end and need ``model``.
        query_positions (Tensor): ``(B, R)`` long, absolute sequence
            positions of the role tokens.  Samples with fewer role tokens
            repeat a valid position and mask the row in the loss.
        heads (Sequence[int], optional): Query-head indices to keep; None
            keeps all heads.
        model (nn.Module, optional): Capture only attention modules inside
            this module (e.g. ``internvl.model.language_model``).

    Attributes:
        attention (Tensor): ``(B, n_layers, n_heads, R, L)`` float, the
            role rows of the last forward, differentiable w.r.t. the
            queries and keys of the captured layers.
    """

    def __init__(self,
                 layers: Sequence[int],
                 query_positions: torch.Tensor,
                 heads: Optional[Sequence[int]] = None,
                 model: Optional[nn.Module] = None):
        if query_positions.dim() != 2 or query_positions.dtype not in (
                torch.int32, torch.int64):
            raise ValueError(
                'RoleAttentionCapture: query_positions must be an integer '
                f'tensor of shape (B, R), got {tuple(query_positions.shape)} '
                f'{query_positions.dtype}')
        if len(layers) == 0:
            raise ValueError('RoleAttentionCapture: layers is empty')
        self.query_positions = query_positions.long()
        self.heads = None if heads is None else list(heads)
        self.layers = self._resolve_layers(list(layers), model)
        self._module_ids = None if model is None else {
            id(module) for module in model.modules()
        }
        self._rows: Dict[int, torch.Tensor] = {}
        self._positions_checked = False
        self._grad_enabled_at_enter = False

    @staticmethod
    def _resolve_layers(layers: List[int],
                        model: Optional[nn.Module]) -> List[int]:
        if all(layer >= 0 for layer in layers):
            return layers
        if model is None:
            raise ValueError('RoleAttentionCapture: negative layer indices '
                             f'{layers} need `model` to count the layers')
        num_layers = 1 + max((m.layer_idx for m in model.modules()
                              if getattr(m, 'is_causal', False)
                              and isinstance(getattr(m, 'layer_idx', None),
                                             int)), default=-1)
        resolved = [layer + num_layers if layer < 0 else layer
                    for layer in layers]
        if num_layers == 0 or min(resolved) < 0:
            raise ValueError(f'RoleAttentionCapture: layers {layers} out of '
                             f'range for a model with {num_layers} layers')
        return resolved

    def __enter__(self) -> 'RoleAttentionCapture':
        self._grad_enabled_at_enter = torch.is_grad_enabled()
        _ACTIVE_CAPTURES.append(self)
        return self

    def __exit__(self, *exc_info) -> None:
        _ACTIVE_CAPTURES.remove(self)

    def wants(self, module: nn.Module) -> bool:
        """Whether ``module`` is an LLM attention layer to capture."""
        layer_idx = getattr(module, 'layer_idx', None)
        if not getattr(module, 'is_causal', False) or layer_idx not in \
                self.layers:
            return False
        return self._module_ids is None or id(module) in self._module_ids

    def _check_call(self, module: nn.Module, query: torch.Tensor,
                    key: torch.Tensor) -> None:
        if self._grad_enabled_at_enter and not torch.is_grad_enabled():
            raise RuntimeError(
                'RoleAttentionCapture: layer '
                f'{module.layer_idx} ran without autograd inside a capture '
                'opened with gradients enabled; this is what reentrant '
                'gradient checkpointing does, and it would silently drop '
                'the attention-mask-loss gradient.  Enable checkpointing '
                'with gradient_checkpointing_kwargs={"use_reentrant": '
                'False}.')
        batch_size, num_query = query.shape[0], query.shape[2]
        if query.shape[2] != key.shape[2]:
            raise ValueError(
                'RoleAttentionCapture: the forward used a pre-filled KV '
                f'cache ({num_query} queries, {key.shape[2]} keys); capture '
                'needs the whole sequence in one forward (use_cache=False)')
        if self.query_positions.shape[0] != batch_size:
            raise ValueError(
                'RoleAttentionCapture: query_positions has batch size '
                f'{self.query_positions.shape[0]}, the model input has '
                f'{batch_size}')
        if not self._positions_checked:
            # One host sync per capture, not per layer.
            low = int(self.query_positions.min())
            high = int(self.query_positions.max())
            if low < 0 or high >= num_query:
                raise ValueError(
                    'RoleAttentionCapture: role positions must be absolute '
                    f'indices in [0, {num_query}), got [{low}, {high}]')
            self._positions_checked = True

    def record(self, module: nn.Module, query: torch.Tensor,
               key: torch.Tensor, attention_mask: Optional[torch.Tensor],
               scaling: Optional[float] = None,
               sliding_window: Optional[int] = None) -> None:
        """Compute and store the role rows of one layer.

        Args:
            module (nn.Module): The attention module (gives ``layer_idx``).
            query (Tensor): ``(B, heads, L, D)`` post-RoPE queries.
            key (Tensor): ``(B, kv_heads, L, D)`` post-RoPE keys.
            attention_mask (Tensor, optional): The mask the attention
                function received (see :func:`_role_row_mask`).
            scaling (float, optional): Score scale, default ``D ** -0.5``.
            sliding_window (int, optional): Window of a sliding layer.
        """
        self._check_call(module, query, key)
        positions = self.query_positions.to(query.device)
        batch_size, num_heads, _, head_dim = query.shape
        num_kv_heads, kv_length = key.shape[1], key.shape[2]
        groups = num_heads // num_kv_heads
        num_rows = positions.shape[1]
        if scaling is None:
            scaling = head_dim**-0.5
        compute_dtype = torch.promote_types(query.dtype, torch.float32)
        with _role_rows_saved_tensor_hooks() if torch.is_grad_enabled() \
                else nullcontext():
            role_query = query.gather(
                2, positions[:, None, :, None].expand(-1, num_heads, -1,
                                                      head_dim))
            # Query head h reads kv head h // groups (as repeat_kv does), so
            # fold the group into the row axis instead of repeating K.
            role_query = role_query.reshape(batch_size, num_kv_heads,
                                            groups * num_rows, head_dim)
            scores = torch.matmul(role_query, key.transpose(2, 3))
            scores = scores.reshape(batch_size, num_heads, num_rows,
                                    kv_length).to(compute_dtype) * scaling
            rows_mask = _role_row_mask(attention_mask, positions, kv_length,
                                       sliding_window)
            if rows_mask.dtype == torch.bool:
                scores = scores.masked_fill(~rows_mask,
                                            torch.finfo(compute_dtype).min)
            else:
                scores = scores + rows_mask.to(compute_dtype)
            if self.heads is not None:
                scores = scores[:, self.heads]
            self._rows[module.layer_idx] = torch.softmax(scores, dim=-1)

    @property
    def attention(self) -> torch.Tensor:
        """``(B, n_layers, n_heads, R, L)`` role rows of the last forward."""
        missing = [layer for layer in self.layers if layer not in self._rows]
        if missing:
            raise RuntimeError(
                f'RoleAttentionCapture: layers {missing} were not captured; '
                'check that the model was built with attn_implementation='
                'register_role_attention(...), that the forward ran inside '
                'the capture, and that the layer indices exist')
        return torch.stack([self._rows[layer] for layer in self.layers], 1)
