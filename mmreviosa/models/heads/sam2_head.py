"""SAM2 mask head of ReVIOSa: role-token prompts in, per-frame mask logits out.

The head wraps a ``sam2.modeling.sam2_base.SAM2Base`` (the real SAM2.1 built
from sam2's hydra configs, or the tiny CPU variant of
:func:`~mmreviosa.models.heads.sam2_builder.build_tiny_sam2`). Each role of each
frame is decoded from the projected role-token hidden state as a sparse prompt
token (alone, or after SAM2's padding points as Sa2VA does: ``prompt_layout``)
with the dense prompt left at SAM's no-mask embedding (optionally a prompt
adapter also lets the prompt act on the decoder's input features). At inference the
prompted key frames become SAM2 conditioning frames and SAM2's memory encoder and
memory attention carry the masks to the other frames, one frame at a time
(:mod:`~mmreviosa.models.heads.sam2_video`).
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmreviosa.models.heads import sam2_video
from mmreviosa.models.heads.mask_loss import WeightedMaskLoss
from mmreviosa.models.heads.sam2_builder import (build_sam2_from_config, build_tiny_sam2,
                                                 load_sam2_checkpoint)
from mmreviosa.models.heads.sam2_features import SAM2Features
from mmreviosa.models.heads.sam2_freezing import frozen_modules, frozen_parameters
from mmreviosa.models.utils import TrainedStateMixin, module_dtype, parse_dtype
from mmreviosa.registry import MODELS

__all__ = ['SAM2Features', 'SAM2Head', 'PROMPT_LAYOUTS']

#: 'token': the role prompt is the only sparse token. 'padded': SAM2's prompt
#: encoder output for "no click" (a not-a-point token plus the padding point it
#: appends without boxes) comes first, then the role prompt, as Sa2VA feeds it:
#: the layout a pretrained decoder has seen.
PROMPT_LAYOUTS = ('token', 'padded')


@MODELS.register_module()
class SAM2Head(TrainedStateMixin, BaseModule):
    """SAM2 mask decoder prompted by role tokens, with SAM2 video memory at inference.

    Single-mask output: the decoder's first mask token is the one trained and used;
    what no loss reaches is frozen (:mod:`~mmreviosa.models.heads.sam2_freezing` says
    what and why).

    Memory propagation needs trained memory attention / encoder: with random
    weights (e.g. the tiny variant) use ``use_memory=False`` unless they are trained
    through :meth:`decode_video` (``freeze_memory=False``).

    Args:
        model_cfg: a sam2 hydra config name shipped in the sam2 package (e.g.
            ``'configs/sam2.1/sam2.1_hiera_l.yaml'``), or a dict of keyword arguments
            of :func:`build_tiny_sam2` for the small conv-encoder CPU variant.
        checkpoint: local SAM2 ``.pt`` file; None keeps random weights.
        hydra_overrides: hydra overrides for a config name, e.g.
            ``['++model.image_size=256']``.
        freeze_image_encoder: keep the image encoder in eval mode without gradients.
        freeze_memory: freeze memory attention, memory encoder and the object-pointer
            parameters (trained only by :meth:`decode_video` when False).
        loss_mask, loss_dice, num_points, oversample_ratio, importance_sample_ratio:
            the mask losses (sigmoid CE + Dice, on all pixels or on Mask2Former point
            samples), passed to :class:`WeightedMaskLoss`, which documents them.
        multimask_output: must stay False (see above).
        use_memory: default of :meth:`predict_video`: SAM2 memory propagation (True)
            or per-frame decoding with the nearest key frame's prompt (False).
        prompt_layout: sparse prompt tokens of the decoder, one of
            :data:`PROMPT_LAYOUTS`: ``'padded'`` for a pretrained SAM2 (the layout it
            was trained with), ``'token'`` (default) for a decoder trained from scratch.
        image_encoder_dtype: dtype of the frozen image encoder ('bfloat16' halves its
            weights and activations); its features are cast to the decoder's dtype.
            None keeps the dtype it was built in. Only with ``freeze_image_encoder``.
        prompt_adapter: optional module (or config, built with ``prompt_dim`` and the
            ``channels`` of the decoder's input levels: the image embedding, then the
            high-res skips) called as ``adapter(prompts, image_embeddings, high_res)``
            before the decoder and returning the last two, e.g.
            ``PromptFeatureModulation`` (the tiny config: it lets a decoder trained
            from scratch follow semantic prompts). It acts wherever a prompt is
            decoded; frames that SAM2's memory tracks carry no prompt and are decoded
            as in SAM2.
        save_trained_only: checkpoints hold only the trained parameters (see
            :class:`TrainedStateMixin`). Default: True with ``checkpoint`` (the
            frozen encoder is re-read from it), False for random weights.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 model_cfg: Union[str, dict] = 'configs/sam2.1/sam2.1_hiera_l.yaml',
                 checkpoint: Optional[str] = None,
                 hydra_overrides: Sequence[str] = (),
                 freeze_image_encoder: bool = True,
                 freeze_memory: bool = True,
                 loss_mask: Union[dict, nn.Module] = dict(
                     type='mmdet.CrossEntropyLoss', use_sigmoid=True, loss_weight=2.0),
                 loss_dice: Union[dict, nn.Module] = dict(
                     type='mmdet.DiceLoss', use_sigmoid=True, activate=True,
                     naive_dice=True, eps=1.0, loss_weight=0.5),
                 num_points: Optional[int] = None,
                 oversample_ratio: float = 3.0,
                 importance_sample_ratio: float = 0.75,
                 multimask_output: bool = False,
                 use_memory: bool = True,
                 prompt_adapter: Union[dict, nn.Module, None] = None,
                 prompt_layout: str = 'token',
                 image_encoder_dtype: Optional[str] = None,
                 save_trained_only: Optional[bool] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if prompt_layout not in PROMPT_LAYOUTS:
            raise ValueError(f'prompt_layout must be one of {PROMPT_LAYOUTS}, '
                             f'got {prompt_layout!r}')
        if image_encoder_dtype is not None and not freeze_image_encoder:
            raise ValueError('image_encoder_dtype is for a frozen image encoder: a trained one '
                             'needs float32 weights for its optimizer')
        if multimask_output:
            raise ValueError('SAM2Head supports multimask_output=False only: one role token '
                             'names one object and the IoU head is not supervised')
        if isinstance(model_cfg, str):
            self.sam2 = build_sam2_from_config(model_cfg, hydra_overrides)
        elif isinstance(model_cfg, dict):
            if hydra_overrides:
                raise ValueError('hydra_overrides apply to sam2 config names, not to the '
                                 f'tiny model {model_cfg}')
            self.sam2 = build_tiny_sam2(**model_cfg)
        else:
            raise TypeError(f'model_cfg must be a sam2 config name or a dict, got {model_cfg!r}')
        if checkpoint is not None:
            load_sam2_checkpoint(self.sam2, checkpoint)
        self.save_trained_only = (checkpoint is not None if save_trained_only is None
                                  else save_trained_only)
        self.freeze_image_encoder = freeze_image_encoder
        self.freeze_memory = freeze_memory
        self.use_memory = use_memory
        self.prompt_layout = prompt_layout
        self._point_embedding_trained = False
        if image_encoder_dtype is not None:
            self.sam2.image_encoder.to(parse_dtype(image_encoder_dtype))
        if isinstance(prompt_adapter, dict):
            prompt_adapter = MODELS.build(prompt_adapter, default_args=dict(
                prompt_dim=self.prompt_dim, channels=self._decoder_input_channels()))
        self.prompt_adapter = prompt_adapter
        self.mask_loss = WeightedMaskLoss(loss_mask, loss_dice, num_points, oversample_ratio,
                                          importance_sample_ratio)
        self._freeze()
        self._register_load_state_dict_pre_hook(self._rename_legacy_keys)

    @staticmethod
    def _rename_legacy_keys(state_dict, prefix, *args) -> None:
        """Checkpoints written before the prompt adapter was pluggable call it
        ``prompt_film``."""
        legacy = prefix + 'prompt_film.'
        for key in [k for k in state_dict if k.startswith(legacy)]:
            state_dict[prefix + 'prompt_adapter.' + key[len(legacy):]] = state_dict.pop(key)

    # ------------------------------------------------------------------ set-up
    @property
    def prompt_dim(self) -> int:
        """Channels of one sparse prompt token (256 for the real SAM2)."""
        return self.sam2.sam_prompt_embed_dim

    @property
    def image_size(self) -> int:
        """Side S of the square SAM input."""
        return self.sam2.image_size

    @property
    def mask_size(self) -> int:
        """Side of the low-resolution mask logits (S / 4 for stride-16 embeddings)."""
        return self.sam2.sam_image_embedding_size * 4

    def _decoder_input_channels(self) -> List[int]:
        """Channels of the mask decoder's input levels: the image embedding, then the
        ``conv_s0`` / ``conv_s1`` high-res skips when it has them."""
        decoder = self.sam2.sam_mask_decoder
        channels = [decoder.transformer_dim]
        if decoder.use_high_res_features:
            channels += [decoder.conv_s0.out_channels, decoder.conv_s1.out_channels]
        return channels

    def train_point_embedding(self) -> None:
        """Train SAM's foreground point embedding, for prompts that add
        :meth:`embed_points` of a location (frozen otherwise, as no loss reaches it)."""
        self._point_embedding_trained = True
        self.sam2.sam_prompt_encoder.point_embeddings[1].requires_grad_(True)

    def _frozen_modules(self) -> List[nn.Module]:
        return frozen_modules(self.sam2, self.freeze_image_encoder, self.freeze_memory,
                              self._point_embedding_trained)

    def _freeze(self) -> None:
        for module in self._frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad = False
        for param in frozen_parameters(self.sam2, self.freeze_memory):
            param.requires_grad = False

    def train(self, mode: bool = True) -> 'SAM2Head':
        """Switch modes but keep frozen parts in eval mode (no dropout, fixed norms)."""
        super().train(mode)
        for module in self._frozen_modules():
            module.eval()
        return self

    # ------------------------------------------------------------- features
    def extract_features(self, sam_pixels: Tensor) -> SAM2Features:
        """Run the image encoder once per frame.

        Args:
            sam_pixels: (N, 3, S, S) float RGB frames resized (not padded) to S x S,
                normalised with the ImageNet statistics (``InterRVOSDataPreprocessor``).

        Returns:
            :class:`SAM2Features` of the N frames (encoder part without gradients when
            frozen; the decoder's high-res projections always with).
        """
        size = self.image_size
        assert sam_pixels.dim() == 4 and sam_pixels.shape[1:] == (3, size, size), (
            f'sam_pixels must be (N, 3, {size}, {size}), got {tuple(sam_pixels.shape)}')
        encoder = self.sam2.image_encoder
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze_image_encoder):
            backbone_out = encoder(sam_pixels.to(module_dtype(encoder)))
        # The decoder side keeps its own dtype (float32 when trained), whatever the encoder's.
        dtype = module_dtype(self.sam2.sam_mask_decoder)
        levels = [level.to(dtype) for level in backbone_out['backbone_fpn']]
        image_embeddings = levels[-1]
        image_pos = backbone_out['vision_pos_enc'][-1].to(dtype)
        high_res = None
        if self.sam2.use_high_res_features_in_sam:
            decoder = self.sam2.sam_mask_decoder
            high_res = [decoder.conv_s0(levels[-3]), decoder.conv_s1(levels[-2])]
        return SAM2Features(image_embeddings, image_pos, high_res)

    def sam2_autocast(self):
        """Autocast to SAM2's dtype when the whole of SAM2 is in half precision.

        DeepSpeed's bf16 mode casts every module, buffers included, and sam2
        builds some inputs in float32 (the coordinates of its random-Fourier
        encoding, the padding point, the masks it writes to memory): those
        products fail without autocast. With float32 buffers this does nothing.
        """
        matrix = self.sam2.sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix
        return torch.autocast(matrix.device.type, dtype=matrix.dtype,
                              enabled=matrix.dtype in (torch.bfloat16, torch.float16))

    def _dense_pe(self, dtype: torch.dtype) -> Tensor:
        """(1, C, h, w) positional encoding of the image embedding, in ``dtype``."""
        with self.sam2_autocast():
            return self.sam2.sam_prompt_encoder.get_dense_pe().to(dtype)

    def embed_points(self, points: Tensor) -> Tensor:
        """SAM's sparse embedding of foreground points, to add to prompts.

        Args:
            points: (..., 2) locations (x, y) as fractions of the frame's width and
                height, in [0, 1].

        Returns:
            (..., prompt_dim): SAM's random-Fourier positional encoding of each point
            plus its foreground-point embedding, as ``PromptEncoder`` embeds a click.
        """
        if not self._point_embedding_trained:
            raise RuntimeError('embed_points needs train_point_embedding() first (ReVIOSa calls '
                               'it for plug-ins that add points): the embedding is frozen')
        prompt_encoder = self.sam2.sam_prompt_encoder
        flat = points.reshape(1, -1, 2).float()
        size = self.image_size
        with self.sam2_autocast():
            encoded = prompt_encoder.pe_layer.forward_with_coords(flat * size, (size, size))
        label = prompt_encoder.point_embeddings[1].weight
        return (encoded + label).to(label.dtype).view(*points.shape[:-1], -1)

    # --------------------------------------------------------------- decoding
    def _conditioning_features(self, feats: SAM2Features) -> Tensor:
        """(N, C, h, w) features of prompted frames: SAM2's "no memory" input."""
        h, w = feats.image_embeddings.shape[-2:]
        flat = feats.image_embeddings.flatten(2).permute(2, 0, 1)
        flat_pos = feats.image_pos.flatten(2).permute(2, 0, 1)
        return self.sam2._prepare_memory_conditioned_features(
            frame_idx=0, is_init_cond_frame=True, current_vision_feats=[flat],
            current_vision_pos_embeds=[flat_pos], feat_sizes=[(h, w)],
            output_dict={'cond_frame_outputs': {}, 'non_cond_frame_outputs': {}},
            num_frames=1)

    def _decode_tokens(self, pix_feat: Tensor, high_res: Optional[List[Tensor]],
                       prompts: Tensor) -> Tuple[Tensor, Tensor]:
        """Decode B (frame, role) pairs, each from one sparse prompt.

        Args:
            pix_feat: (B, C, h, w) conditioned image features.
            high_res: high-res skips with batch B, or None.
            prompts: (B, C) prompt tokens.

        Returns:
            (B, 1, 4h, 4w) mask logits and (B, C) mask output tokens (object pointers).
        """
        prompt_encoder = self.sam2.sam_prompt_encoder
        if self.prompt_adapter is not None:
            pix_feat, high_res = self.prompt_adapter(prompts, pix_feat, high_res)
        batch, channels, h, w = pix_feat.shape
        dense = prompt_encoder.no_mask_embed.weight.reshape(1, channels, 1, 1).expand(
            batch, channels, h, w)
        sparse = prompts.unsqueeze(1).to(pix_feat.dtype)
        if self.prompt_layout == 'padded':
            no_click = (prompts.new_zeros(batch, 1, 2), prompts.new_full((batch, 1), -1))
            with self.sam2_autocast():
                padding, _ = prompt_encoder(points=no_click, boxes=None, masks=None)
            sparse = torch.cat([padding.to(sparse.dtype), sparse], dim=1)
        mask_logits, _, output_tokens, _ = self.sam2.sam_mask_decoder(
            image_embeddings=pix_feat,
            image_pe=self._dense_pe(pix_feat.dtype),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=False,
            repeat_image=False,
            high_res_features=high_res)
        return mask_logits.float(), output_tokens[:, 0]

    def decode(self, feats: SAM2Features, prompts: Tensor) -> Tensor:
        """Decode every role of every frame from its prompt token.

        Args:
            feats: features of N frames from :meth:`extract_features`.
            prompts: (N, R, prompt_dim) one sparse prompt token per frame and role.

        Returns:
            (N, R, S/4, S/4) low-resolution mask logits.
        """
        return self.decode_with_tokens(feats, prompts)[0]

    def decode_with_tokens(self, feats: SAM2Features, prompts: Tensor) -> Tuple[Tensor, Tensor]:
        """:meth:`decode` that also returns the (N, R, C) mask output tokens."""
        num_frames = len(feats)
        assert prompts.dim() == 3 and prompts.shape[0] == num_frames and \
            prompts.shape[2] == self.prompt_dim, (
                f'prompts must be ({num_frames}, R, {self.prompt_dim}), '
                f'got {tuple(prompts.shape)}')
        num_roles = prompts.shape[1]
        pix_feat = self._conditioning_features(feats).repeat_interleave(num_roles, dim=0)
        high_res = None if feats.high_res_features is None else [
            x.repeat_interleave(num_roles, dim=0) for x in feats.high_res_features]
        mask_logits, tokens = self._decode_tokens(pix_feat, high_res, prompts.flatten(0, 1))
        return (mask_logits.view(num_frames, num_roles, *mask_logits.shape[-2:]),
                tokens.view(num_frames, num_roles, -1))

    # ------------------------------------------------------------------ loss
    def loss(self, mask_logits: Tensor, gt_masks: Tensor, weights: Tensor) -> Dict[str, Tensor]:
        """Mask CE + Dice over the rows with weight 1 (see :class:`WeightedMaskLoss`).

        Args:
            mask_logits: (N, R, h, w) logits from :meth:`decode`.
            gt_masks: (N, R, H, W) bool/float masks at any resolution.
            weights: (N, R) float in {0, 1}.

        Returns:
            ``dict(loss_mask=..., loss_dice=...)`` scalars.
        """
        return self.mask_loss(mask_logits, gt_masks, weights)

    def loss_by_role(self, mask_logits: Tensor, gt_masks: Tensor, weights: Tensor,
                     role_names: Sequence[str], prefix: str = '') -> Dict[str, Tensor]:
        """:meth:`loss` of each role on its own.

        Args:
            mask_logits: (N, R, h, w) logits from :meth:`decode`.
            gt_masks: (N, R, H, W) bool/float masks at any resolution.
            weights: (N, R) float in {0, 1}.
            role_names: R names, e.g. ``('actor', 'target')``.
            prefix: prepended to the role name, e.g. ``'visual_'``.

        Returns:
            ``loss_{prefix}{role}_mask`` and ``loss_{prefix}{role}_dice`` of every role.
        """
        assert mask_logits.shape[1] == len(role_names), (
            f'{mask_logits.shape[1]} roles of logits, names {list(role_names)}')
        losses = {}
        for r, name in enumerate(role_names):
            role = self.mask_loss(mask_logits[:, r:r + 1], gt_masks[:, r:r + 1],
                                  weights[:, r:r + 1])
            losses[f'loss_{prefix}{name}_mask'] = role['loss_mask']
            losses[f'loss_{prefix}{name}_dice'] = role['loss_dice']
        return losses

    # ------------------------------------------------------------- inference
    def decode_video(self, feats: SAM2Features, key_frame_inds: Sequence[int],
                     prompts: Tensor) -> Tensor:
        """(R, T, S/4, S/4) logits of R roles on all T frames of ``feats`` from (K, R, C)
        prompts on K key frames, through SAM2's video memory, with gradients
        (:func:`~mmreviosa.models.heads.sam2_video.decode_video`)."""
        return sam2_video.decode_video(self, feats, key_frame_inds, prompts)

    @torch.no_grad()
    def predict_video(self, sam_pixels: Tensor, key_frame_inds: Sequence[int], prompts: Tensor,
                      ori_shape: Tuple[int, int], use_memory: Optional[bool] = None) -> Tensor:
        """(R, T, H, W) bool masks of R roles on the T frames ``sam_pixels`` from (K, R, C)
        prompts on K key frames, encoding one frame at a time: through SAM2's memory
        (:func:`~mmreviosa.models.heads.sam2_video.predict_video`) or, without it, from the
        nearest key frame's prompts (:meth:`predict_frames`). ``use_memory`` None takes
        the one given at construction."""
        use_memory = self.use_memory if use_memory is None else use_memory
        if not use_memory:
            return self.predict_frames(sam_pixels, key_frame_inds, prompts, ori_shape)
        return sam2_video.predict_video(self, sam_pixels, key_frame_inds, prompts, ori_shape)

    @torch.no_grad()
    def predict_frames(self, sam_pixels: Tensor, key_frame_inds: Sequence[int],
                       prompts: Tensor, ori_shape: Tuple[int, int]) -> Tensor:
        """:meth:`predict_video` without memory
        (:func:`~mmreviosa.models.heads.sam2_video.predict_frames`)."""
        return sam2_video.predict_frames(self, sam_pixels, key_frame_inds, prompts, ori_shape)
