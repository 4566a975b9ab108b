"""Builders of the ``SAM2Base`` models behind :class:`SAM2Head`.

Two kinds of model come out of here, both instances of
``sam2.modeling.sam2_base.SAM2Base`` so that prompting, memory encoding and
memory attention run through the same sam2 code:

* :func:`build_sam2_from_config`: a model described by one of the hydra configs
  shipped inside the ``sam2`` package (e.g. ``configs/sam2.1/sam2.1_hiera_l.yaml``),
  optionally shrunk with hydra overrides. Works under ``torch.device('meta')``
  (parameters on meta, nothing allocated), which counting tools rely on.
* :func:`build_tiny_sam2`: a CPU-demo model whose Hiera image encoder is replaced by
  :class:`TinyConvImageEncoder`; prompt encoder, mask decoder, memory attention and
  memory encoder are sam2's own classes built small. A shrunk Hiera was both slower
  and less accurate than a small conv pyramid at 64 px on a CPU, hence the swap.
"""
import contextlib
import os
from typing import Dict, List, Optional, Sequence

import sam2
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.initialize import get_gh_backup, restore_gh_from_backup
from hydra.utils import instantiate
from omegaconf import OmegaConf
from sam2.modeling.memory_attention import MemoryAttention, MemoryAttentionLayer
from sam2.modeling.memory_encoder import CXBlock, Fuser, MaskDownSampler, MemoryEncoder
from sam2.modeling.position_encoding import PositionEmbeddingSine
from sam2.modeling.sam2_base import SAM2Base
from sam2.modeling.sam.mask_decoder import MaskDecoder
from sam2.modeling.sam.transformer import RoPEAttention, TwoWayTransformer
from torch import nn

__all__ = [
    'TinyConvImageEncoder', 'build_sam2_from_config', 'build_tiny_sam2',
    'load_sam2_checkpoint', 'sam2_config_names'
]


def sam2_config_names() -> List[str]:
    """Hydra config names shipped inside the installed ``sam2`` package."""
    package_dir = sam2.__path__[0]
    names = []
    for folder, _, files in os.walk(os.path.join(package_dir, 'configs')):
        for file_name in files:
            if file_name.endswith('.yaml'):
                names.append(os.path.relpath(os.path.join(folder, file_name), package_dir))
    return sorted(names)


def _compose_sam2_config(model_cfg: str, hydra_overrides: Sequence[str]):
    """Compose ``model_cfg`` from sam2's config module, whatever hydra state the caller has."""
    if model_cfg not in sam2_config_names():
        raise FileNotFoundError(
            f'SAM2 config {model_cfg!r} is not shipped in the installed sam2 package; '
            f'expected one of {sam2_config_names()}')
    # Another library may own the global hydra instance with its own search path:
    # compose in a private instance and put theirs back afterwards.
    saved_hydra = get_gh_backup()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module('sam2', version_base='1.2'):
            cfg = compose(config_name=model_cfg, overrides=list(hydra_overrides))
    finally:
        restore_gh_from_backup(saved_hydra)
    OmegaConf.resolve(cfg)
    return cfg


@contextlib.contextmanager
def _parameters_on_meta():
    """Create modules with CPU-side init code but parameters and buffers on meta.

    Hiera calls ``.item()`` on a ``linspace`` while building, which a meta default
    device forbids; building on CPU and moving each tensor to meta as it is
    registered keeps memory flat and the init code happy.
    """
    register_parameter = nn.Module.register_parameter
    register_buffer = nn.Module.register_buffer

    def register_parameter_on_meta(module, name, param):
        if param is not None:
            param = type(param)(param.to('meta'), requires_grad=param.requires_grad)
        register_parameter(module, name, param)

    def register_buffer_on_meta(module, name, tensor, persistent=True):
        if tensor is not None:
            tensor = tensor.to('meta')
        register_buffer(module, name, tensor, persistent=persistent)

    nn.Module.register_parameter = register_parameter_on_meta
    nn.Module.register_buffer = register_buffer_on_meta
    try:
        with torch.device('cpu'):
            yield
    finally:
        nn.Module.register_parameter = register_parameter
        nn.Module.register_buffer = register_buffer


def build_sam2_from_config(model_cfg: str, hydra_overrides: Sequence[str] = ()) -> nn.Module:
    """Build a random-weight ``SAM2Base`` from a hydra config of the sam2 package.

    Args:
        model_cfg: config name relative to the sam2 package, e.g.
            ``'configs/sam2.1/sam2.1_hiera_l.yaml'``.
        hydra_overrides: hydra override strings, e.g. ``['++model.image_size=256']``.

    Returns:
        The model (train mode, on the default device; on meta when the caller set
        ``torch.device('meta')``).
    """
    cfg = _compose_sam2_config(model_cfg, hydra_overrides)
    on_meta = torch.get_default_device().type == 'meta'
    with _parameters_on_meta() if on_meta else contextlib.nullcontext():
        model = instantiate(cfg.model, _recursive_=True)
    return model


def load_sam2_checkpoint(model: nn.Module, checkpoint: str) -> None:
    """Load SAM2 weights (a ``{'model': state_dict}`` file as released, or a bare state dict)."""
    if not os.path.isfile(checkpoint):
        raise FileNotFoundError(f'SAM2 checkpoint {checkpoint!r} does not exist')
    state = torch.load(checkpoint, map_location='cpu', weights_only=True)
    state_dict = state.get('model', state) if isinstance(state, dict) else state
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    if missing or unexpected:
        raise RuntimeError(f'SAM2 checkpoint {checkpoint!r} does not match the model: '
                           f'missing keys {missing[:10]}..., unexpected keys {unexpected[:10]}...')


def _conv_norm_act(in_channels: int, out_channels: int, kernel_size: int = 3,
                   stride: int = 1) -> nn.Sequential:
    # GroupNorm + ReLU: the fused CPU kernels cost half of sam2's LayerNorm2d + GELU
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                  padding=1 if kernel_size == 3 else 0),
        nn.GroupNorm(min(8, out_channels), out_channels), nn.ReLU(inplace=True))


class _TinyFpnNeck(nn.Module):
    """1x1 lateral projections to ``d_model`` plus a top-down path into the middle level.

    ``SAM2Base`` reads ``image_encoder.neck.d_model``; levels 0 and 1 feed the mask
    decoder's high-resolution skips, level 2 is the image embedding (as in SAM2.1).
    """

    def __init__(self, in_channels: Sequence[int], d_model: int):
        super().__init__()
        self.d_model = d_model
        self.lateral_convs = nn.ModuleList(nn.Conv2d(c, d_model, 1) for c in in_channels)
        self.position_encoding = PositionEmbeddingSine(num_pos_feats=d_model)

    def forward(self, levels: List[torch.Tensor]):
        feats = [conv(x) for conv, x in zip(self.lateral_convs, levels)]
        feats[1] = feats[1] + F.interpolate(feats[2], size=feats[1].shape[-2:], mode='nearest')
        pos = [self.position_encoding(x).to(x.dtype) for x in feats]
        return feats, pos


class TinyConvImageEncoder(nn.Module):
    """Small conv pyramid with the output layout of sam2's ``ImageEncoder`` (CPU demos only).

    A patchify stem (kernel = stride = ``backbone_stride / 4``, as in ConvNeXt) then
    one 3x3 block per level; strided 3x3 stems cost twice as much on a CPU at 64 px.

    Args:
        d_model: channels of every output level (the SAM2 hidden dim).
        channels: channels of the three pyramid levels (strides
            ``backbone_stride / 4``, ``/ 2`` and ``backbone_stride``).
        backbone_stride: stride of the coarsest level (a power of 2, at least 4).
    """

    def __init__(self, d_model: int = 32, channels: Sequence[int] = (16, 32, 64),
                 backbone_stride: int = 16):
        super().__init__()
        if backbone_stride < 4 or backbone_stride & (backbone_stride - 1):
            raise ValueError(f'backbone_stride must be a power of 2 >= 4, got {backbone_stride}')
        if len(channels) != 3:
            raise ValueError(f'channels must give 3 pyramid levels, got {channels}')
        patch = backbone_stride // 4
        self.stem = _conv_norm_act(3, channels[0], kernel_size=patch, stride=patch)
        self.stages = nn.ModuleList([
            _conv_norm_act(channels[0], channels[0]),
            _conv_norm_act(channels[0], channels[1], stride=2),
            _conv_norm_act(channels[1], channels[2], stride=2),
        ])
        self.neck = _TinyFpnNeck(channels, d_model)

    def forward(self, images: torch.Tensor) -> Dict[str, object]:
        """Encode ``images`` (B, 3, S, S) into sam2's ``backbone_out`` dict."""
        x = self.stem(images)
        levels = []
        for stage in self.stages:
            x = stage(x)
            levels.append(x)
        feats, pos = self.neck(levels)
        return {'vision_features': feats[-1], 'vision_pos_enc': pos, 'backbone_fpn': feats}


def build_tiny_sam2(image_size: int = 64,
                    embed_dim: int = 32,
                    mem_dim: int = 16,
                    backbone_stride: int = 16,
                    encoder_channels: Sequence[int] = (16, 32, 64),
                    decoder_num_heads: int = 4,
                    decoder_mlp_dim: Optional[int] = None,
                    num_memory_layers: int = 1,
                    num_maskmem: int = 4,
                    max_obj_ptrs_in_encoder: int = 8) -> nn.Module:
    """Build a small ``SAM2Base`` around :class:`TinyConvImageEncoder` for CPU demos.

    The SAM2.1 switches are kept (high-res skips into the decoder, no-memory
    embedding added on conditioning frames, object pointers with temporal
    encodings, scaled sigmoid into the memory encoder) except the occlusion
    head (``pred_obj_scores``), which nothing in ReVIOSa supervises.

    Args:
        image_size: side S of the square SAM input.
        embed_dim: SAM2 hidden dim = prompt dim of the mask decoder.
        mem_dim: channels of the memory features (divides ``embed_dim``).
        backbone_stride: stride of the image embedding; mask logits are at stride
            ``backbone_stride / 4``.
        encoder_channels: channels of the conv pyramid levels.
        decoder_num_heads: heads of the mask decoder's two-way transformer.
        decoder_mlp_dim: MLP width of that transformer (default ``4 * embed_dim``).
        num_memory_layers: layers of memory attention.
        num_maskmem: memory frames attended (1 conditioning + previous frames).
        max_obj_ptrs_in_encoder: object pointers attended.

    Returns:
        A ``SAM2Base`` in train mode.
    """
    if image_size % backbone_stride:
        raise ValueError(f'image_size {image_size} is not a multiple of backbone_stride '
                         f'{backbone_stride}')
    if embed_dim % mem_dim or embed_dim % 8:
        raise ValueError(f'embed_dim {embed_dim} must be a multiple of 8 and of mem_dim {mem_dim}')
    feat_size = image_size // backbone_stride
    image_encoder = TinyConvImageEncoder(embed_dim, encoder_channels, backbone_stride)

    def rope_attention(**kwargs):
        return RoPEAttention(rope_theta=10000.0, feat_sizes=[feat_size, feat_size],
                             embedding_dim=embed_dim, num_heads=1, downsample_rate=1,
                             dropout=0.1, **kwargs)

    memory_attention = MemoryAttention(
        d_model=embed_dim,
        pos_enc_at_input=True,
        layer=MemoryAttentionLayer(
            activation='relu', dim_feedforward=4 * embed_dim, dropout=0.1,
            pos_enc_at_attn=False, d_model=embed_dim,
            pos_enc_at_cross_attn_keys=True, pos_enc_at_cross_attn_queries=False,
            self_attention=rope_attention(),
            cross_attention=rope_attention(rope_k_repeat=True, kv_in_dim=mem_dim)),
        num_layers=num_memory_layers)
    memory_encoder = MemoryEncoder(
        out_dim=mem_dim,
        position_encoding=PositionEmbeddingSine(num_pos_feats=mem_dim),
        mask_downsampler=MaskDownSampler(embed_dim=embed_dim, kernel_size=3, stride=2,
                                         padding=1, total_stride=backbone_stride),
        fuser=Fuser(CXBlock(dim=embed_dim, kernel_size=3, padding=1,
                            layer_scale_init_value=1e-6, use_dwconv=True), num_layers=1),
        in_dim=embed_dim)
    model = SAM2Base(
        image_encoder=image_encoder,
        memory_attention=memory_attention,
        memory_encoder=memory_encoder,
        num_maskmem=num_maskmem,
        image_size=image_size,
        backbone_stride=backbone_stride,
        sigmoid_scale_for_mem_enc=20.0,
        sigmoid_bias_for_mem_enc=-10.0,
        directly_add_no_mem_embed=True,
        use_high_res_features_in_sam=True,
        multimask_output_in_sam=False,
        iou_prediction_use_sigmoid=True,
        use_obj_ptrs_in_encoder=True,
        max_obj_ptrs_in_encoder=max_obj_ptrs_in_encoder,
        add_tpos_enc_to_obj_ptrs=True,
        proj_tpos_enc_in_obj_ptrs=True,
        use_signed_tpos_enc_to_obj_ptrs=True,
        only_obj_ptrs_in_the_past_for_eval=True,
        use_mlp_for_obj_ptr_proj=True)
    # SAM2Base hard-codes a 2048-wide, 8-head decoder transformer (sized for 256-d);
    # swap in one sized for the tiny hidden dim.
    model.sam_mask_decoder = MaskDecoder(
        num_multimask_outputs=3,
        transformer=TwoWayTransformer(depth=2, embedding_dim=embed_dim,
                                      mlp_dim=decoder_mlp_dim or 4 * embed_dim,
                                      num_heads=decoder_num_heads),
        transformer_dim=embed_dim,
        iou_head_depth=3,
        iou_head_hidden_dim=embed_dim,
        use_high_res_features=True,
        iou_prediction_use_sigmoid=True)
    return model
