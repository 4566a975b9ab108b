"""ReVIOSa: an MLLM whose role tokens prompt SAM2 (InterRVOS, CVPR 2026)."""
import logging
from dataclasses import dataclass
from itertools import accumulate
from typing import Dict, List, Optional, Union

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModel
from torch import nn

from mmreviosa.models.utils import CheckpointFactsMixin, module_dtype
from mmreviosa.registry import MODELS
from mmreviosa.structures import InterRVOSDataSample
from mmreviosa.text import ROLE_TOKENS

from .reviosa_losses import ReVIOSaLossMixin
from .role_utils import (MODE_ROLE_TOKENS, attention_points, find_role_positions, gather_positions,
                         points_per_frame, role_token_ids_of)


@dataclass
class ReVIOSaTensorOutput:
    """Raw outputs of ``mode='tensor'``.

    Attributes:
        mask_logits (Tensor): (sum T_b, R, h, w) low-resolution SAM2 logits,
            frames of all samples concatenated, R role tokens.
        role_prompts (Tensor): (B, R, C) prompts given to SAM2.
        role_found (Tensor): (B, R) bool, whether each role token is present.
        lm_loss (Tensor | None): language-model loss on the answer.
    """
    mask_logits: torch.Tensor
    role_prompts: torch.Tensor
    role_found: torch.Tensor
    lm_loss: Optional[torch.Tensor]


def _build(cfg: Union[dict, nn.Module, None], **default_args) -> Optional[nn.Module]:
    """Build from a config dict, or take an already-built module (or None)."""
    if cfg is None or isinstance(cfg, nn.Module):
        return cfg
    return MODELS.build(cfg, default_args=default_args or None)


@MODELS.register_module()
class ReVIOSa(CheckpointFactsMixin, ReVIOSaLossMixin, BaseModel):
    """Interaction-aware referring video object segmentation.

    The MLLM reads the key frames and the expression and answers with role
    tokens ("Sure, it is [SEG_ACT] and [SEG_TAR]."); the last-layer hidden
    state of each role token is projected into SAM2's prompt space and
    prompts SAM2's mask decoder on every frame.  ``role_mode='single'`` is the
    single-[SEG] baseline (one mask, the actor).

    Args:
        mllm (dict | nn.Module): the MLLM, e.g. ``InternVLMLLM``.
        sam2_head (dict | nn.Module): the SAM2 head, e.g. ``SAM2Head``.
        projector (dict | nn.Module, optional): role-token projector; default
            ``RoleTokenProjector(mllm.hidden_size, sam2_head.prompt_dim)``.
        role_mode (str): 'roles' (ReVIOSa) or 'single' (one [SEG] token).
        loss_aml (dict | nn.Module, optional): the Attention Mask Loss; None
            disables it.
        aml_layers (list[int]): LLM layers whose role-token attention is
            supervised (the paper: 21-23 of the 1B model's 24 layers); with
            ``point_prompts`` also the layers the points are read from, with or
            without ``loss_aml``.
        aml_heads (list[int], optional): heads to supervise; None = all.
        point_prompts (bool): add to each role's prompt, on every key frame, SAM's
            point embedding (``SAM2Head.embed_points``; the head needs
            ``point_prompts=True``) at the soft-argmax of the role token's attention
            over that frame's visual tokens, in the ``aml_layers`` / ``aml_heads``
            the AML supervises. Frames that are not key frames take the nearest key
            frame's point. A randomly initialised SAM2 decoder learns to follow a
            location long before it learns to match a semantic prompt with the image
            (``benchmarks/bench_prompt_learnability.py``); on in
            ``reviosa_tiny_intershapes_points.py``, off by default.
        point_aux_weight (float): with ``point_prompts``, also decode every frame
            from the GT mask centroid (the role prompt plus that point) and add its
            mask losses times this weight, so that SAM2 learns to follow points
            while the attention is still finding the object. 0 disables.
        visual_aux_weight (float): also decode every frame from each referent's
            *visual prompt*, the layer-normalised average of SAM2's image embedding
            inside its GT mask (:func:`mask_pooled_features`), and add its mask losses
            times this weight: the decoder learns to segment what a prompt looks like
            without waiting for the MLLM. 0 disables.
        visual_align_weight (float): add a loss pulling each role prompt towards its
            referent's visual prompt (a fixed target, no gradient into SAM2) times this
            weight: a direct signal to route the referring words into the role token,
            which the mask loss through an untrained decoder hardly gives. Both are on
            in the default tiny config; a pretrained SAM2 already follows prompts, so
            the real-scale configs leave them off. 0 disables.
        visual_align (str): that loss. ``'contrastive'`` (default): InfoNCE of each
            frame's role prompt among all referents' visual prompts in the batch,
            centred by their mean (:func:`centred_info_nce`); from scratch every object
            first pools to almost the same embedding, and only the centred differences
            tell the MLLM which referent to encode. ``'mse'``: the mean squared
            distance, meant with ``RoleTokenProjector(out_norm=True)`` (prompts on the
            visual prompts' scale); with it the tiny model learned with one seed of
            three (model-zoo.md).
        visual_align_temperature (float): divides the cosines of ``'contrastive'``.
        lm_loss_weight (float): weight of the language-model loss.
        test_cfg (dict): ``max_new_tokens`` (int), ``use_memory`` (bool: SAM2
            video memory at inference), ``force_answer`` (str | None: skip
            generation and use this answer, e.g. for probing),
            ``single_mask_as`` ('actor' | 'target': with ``role_mode='single'``,
            which prediction the [SEG] mask becomes; 'target' probes the
            single-token model for the target zero-shot, leaving empty actor
            masks).
        data_preprocessor (dict, optional): defaults to
            ``InterRVOSDataPreprocessor`` with the tokenizer's pad id.
    """

    def __init__(self,
                 mllm: Union[dict, nn.Module],
                 sam2_head: Union[dict, nn.Module],
                 projector: Union[dict, nn.Module, None] = None,
                 role_mode: str = 'roles',
                 loss_aml: Union[dict, nn.Module, None] = None,
                 aml_layers: Optional[List[int]] = None,
                 aml_heads: Optional[List[int]] = None,
                 point_prompts: bool = False,
                 point_aux_weight: float = 0.0,
                 visual_aux_weight: float = 0.0,
                 visual_align_weight: float = 0.0,
                 visual_align: str = 'contrastive',
                 visual_align_temperature: float = 0.1,
                 lm_loss_weight: float = 1.0,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if role_mode not in MODE_ROLE_TOKENS:
            raise ValueError(
                f'role_mode must be one of {list(MODE_ROLE_TOKENS)}, got {role_mode!r}')
        mllm = _build(mllm)
        if data_preprocessor is None:
            data_preprocessor = dict(type='InterRVOSDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            data_preprocessor = dict(data_preprocessor)
            if mllm.tokenizer is not None:  # None only when building to count parameters
                data_preprocessor.setdefault('pad_token_id', mllm.tokenizer.pad_token_id)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.mllm = mllm
        self.sam2_head = _build(sam2_head)
        if projector is None:
            projector = dict(type='RoleTokenProjector', in_dim=self.mllm.hidden_size,
                             out_dim=self.sam2_head.prompt_dim)
        self.projector = _build(projector)
        self.role_mode = role_mode
        # An MLLM built without a tokenizer (parameter counting) has no token ids.
        self.role_ids = role_token_ids_of(
            self.mllm.role_token_ids or {t: -1 for t in ROLE_TOKENS}, role_mode)
        self.loss_aml = _build(loss_aml)
        if self.loss_aml is not None and not aml_layers:
            raise ValueError('loss_aml is set but aml_layers is empty')
        self.aml_layers = list(aml_layers or [])
        self.aml_heads = aml_heads
        if point_prompts and not self.aml_layers:
            raise ValueError('point_prompts reads role-token attention: set aml_layers')
        if point_prompts and not getattr(self.sam2_head, 'point_prompts', False):
            raise ValueError('point_prompts needs a SAM2 head built with point_prompts=True')
        if point_aux_weight and not point_prompts:
            raise ValueError('point_aux_weight is only used with point_prompts=True')
        self.point_prompts = point_prompts
        self.point_aux_weight = point_aux_weight
        self.visual_aux_weight = visual_aux_weight
        self.visual_align_weight = visual_align_weight
        if visual_align not in ('contrastive', 'mse'):
            raise ValueError(f"visual_align must be 'contrastive' or 'mse', got {visual_align!r}")
        self.visual_align = visual_align
        self.visual_align_temperature = visual_align_temperature
        self.lm_loss_weight = lm_loss_weight
        self.test_cfg = dict(max_new_tokens=32, use_memory=True, force_answer=None,
                             single_mask_as='actor')
        self.test_cfg.update(test_cfg or {})
        self._token_ids_checked = False

    # ------------------------------------------------------------------ utils
    @property
    def num_roles(self) -> int:
        return len(self.role_ids)

    def checkpoint_facts(self) -> Dict[str, object]:
        """What a checkpoint must share with this config; saved with the weights and compared
        on load (:class:`CheckpointFactsMixin`), since the single-[SEG] and role-token models
        have the same weight names and shapes."""
        facts = dict(role_mode=self.role_mode)
        if self.mllm.role_token_ids:  # empty when built without a tokenizer (counting)
            facts['role_tokens'] = {t: self.mllm.role_token_ids[t]
                                    for t in MODE_ROLE_TOKENS[self.role_mode]}
        facts.update(mllm_hidden_size=self.mllm.hidden_size,
                     mllm_num_layers=self.mllm.model.config.text_config.num_hidden_layers,
                     sam2_prompt_dim=self.sam2_head.prompt_dim)
        return facts

    def _check_token_ids(self, data_samples: List[InterRVOSDataSample]) -> None:
        """The pipeline's role-token ids must be the model's (once per process)."""
        if self._token_ids_checked:
            return
        for sample in data_samples:
            ids = sample.metainfo.get('role_token_ids')
            if ids is not None:
                self.mllm.check_token_ids(ids)
        self._token_ids_checked = True

    @property
    def _captures_attention(self) -> bool:
        return self.loss_aml is not None or self.point_prompts

    def _run_mllm(self, inputs: dict, capture_positions: Optional[torch.Tensor] = None):
        """MLLM forward, capturing role-token attention rows for the AML / point prompts."""
        kwargs = dict(input_ids=inputs['input_ids'], attention_mask=inputs['attention_mask'],
                      pixel_values=inputs['mllm_pixels'], labels=inputs.get('labels'))
        if not self._captures_attention or capture_positions is None:
            return self.mllm(**kwargs), None
        from mmreviosa.models.mllm.role_attention import RoleAttentionCapture
        with RoleAttentionCapture(layers=self.aml_layers, heads=self.aml_heads,
                                  query_positions=capture_positions) as capture:
            out = self.mllm(**kwargs)
        return out, capture.attention

    def _project_roles(self, hidden: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """(B, L, D) hidden states at (B, R) role positions -> (B, R, C) SAM2 prompts.

        The hidden states come in the MLLM's dtype (bf16 with bf16 weights); the
        projector, a trained module, keeps float32 weights and its own dtype.
        """
        role_hidden = gather_positions(hidden, positions)
        return self.projector(role_hidden.to(module_dtype(self.projector)))

    def _add_attention_points(self, frame_prompts: torch.Tensor, role_attention: torch.Tensor,
                              inputs: dict, data_samples: List[InterRVOSDataSample]
                              ) -> torch.Tensor:
        """(sum T_b, R, C) prompts plus the point embedding of each frame's attention point."""
        points = attention_points(role_attention, inputs['input_ids'], self.mllm.image_token_id,
                                  self.mllm.num_image_tokens, inputs['num_key_frames'][0])
        frame_points = points_per_frame(points, [s.key_frame_inds for s in data_samples],
                                        inputs['num_frames'])
        return frame_prompts + self.sam2_head.embed_points(frame_points)

    @staticmethod
    def _frames_prompts(prompts: torch.Tensor, num_frames: List[int]) -> torch.Tensor:
        """Repeat each sample's (B, ...) values over its frames -> (sum T_b, ...)."""
        counts = torch.as_tensor(num_frames, device=prompts.device)
        return torch.repeat_interleave(prompts, counts, dim=0)

    # ------------------------------------------------------------------ modes
    def forward(self, inputs: dict, data_samples: Optional[List[InterRVOSDataSample]] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}": only "loss", "predict" and "tensor" exist')

    def _forward(self, inputs: dict,
                 data_samples: Optional[List[InterRVOSDataSample]] = None
                 ) -> ReVIOSaTensorOutput:
        positions, found = find_role_positions(inputs['input_ids'], self.role_ids)
        out, role_attention = self._run_mllm(
            inputs, capture_positions=positions if self.point_prompts else None)
        prompts = self._project_roles(out.hidden_states, positions)
        feats = self.sam2_head.extract_features(inputs['sam_pixels'])
        frame_prompts = self._frames_prompts(prompts, inputs['num_frames'])
        if self.point_prompts:
            if data_samples is None:
                raise ValueError('mode="tensor" with point_prompts needs data_samples '
                                 '(their key_frame_inds place the points)')
            frame_prompts = self._add_attention_points(frame_prompts, role_attention, inputs,
                                                       data_samples)
        logits = self.sam2_head.decode(feats, frame_prompts)
        return ReVIOSaTensorOutput(logits, prompts, found, out.loss)

    def loss(self, inputs: dict,
             data_samples: List[InterRVOSDataSample]) -> Dict[str, torch.Tensor]:
        """Teacher-forced training step.

        Returns:
            dict: ``loss_lm``; per role ``loss_{role}_mask`` and
            ``loss_{role}_dice`` (role = actor/target, or seg for the
            single-token baseline); ``loss_aml`` when the AML is on; the
            auxiliary decodes' ``loss_gtpoint_*`` / ``loss_visual_*`` and
            ``loss_visual_align`` when their weights are non-zero.
        """
        self._check_token_ids(data_samples)
        input_ids = inputs['input_ids']
        positions, found = find_role_positions(input_ids, self.role_ids)
        weights = self._role_weights(data_samples, found)
        out, role_attention = self._run_mllm(inputs, capture_positions=positions)
        prompts = self._project_roles(out.hidden_states, positions)  # (B, R, C)

        feats = self.sam2_head.extract_features(inputs['sam_pixels'])
        frame_prompts = self._frames_prompts(prompts, inputs['num_frames'])  # (N, R, C)
        role_prompts = frame_prompts
        if self.point_prompts:
            frame_prompts = self._add_attention_points(frame_prompts, role_attention, inputs,
                                                       data_samples)
        logits = self.sam2_head.decode(feats, frame_prompts)  # (N, R, h, w)
        gt = self._gt_role_masks(data_samples, inputs['sam_pixels'].shape[-1])
        frame_weights = self._frames_prompts(weights, inputs['num_frames'])  # (N, R)

        losses = {}
        names = ('seg', ) if self.role_mode == 'single' else ('actor', 'target')
        self._add_mask_losses(losses, logits, gt, frame_weights, names, '')
        if self.point_aux_weight:
            losses.update(self._point_aux_losses(feats, role_prompts, gt, frame_weights, names))
        if self.visual_aux_weight or self.visual_align_weight:
            losses.update(self._visual_prompt_losses(feats, role_prompts, gt, frame_weights,
                                                     names, inputs['num_frames']))
        if out.loss is not None:
            losses['loss_lm'] = out.loss * self.lm_loss_weight
        if self.loss_aml is not None:
            losses['loss_aml'] = self._aml_loss(role_attention, input_ids, inputs, gt,
                                                weights, data_samples)
        return losses

    @torch.no_grad()
    def predict(self, inputs: dict, data_samples: List[InterRVOSDataSample]
                ) -> List[InterRVOSDataSample]:
        """Generate the answer, then segment each role token it contains.

        Sets ``pred_text``, ``pred_actor_masks`` (T, H, W) bool at the original
        size and ``pred_target_masks`` (T, H, W) bool, or None when the answer
        has no [SEG_TAR] (the fallback to plain RVOS).
        """
        self._check_token_ids(data_samples)
        answers = self._answer_ids(inputs)
        frame_offsets = [0, *accumulate(inputs['num_frames'])]
        key_offsets = [0, *accumulate(inputs['num_key_frames'])]
        tokenizer = self.mllm.tokenizer
        for b, sample in enumerate(data_samples):
            prompt = inputs['input_ids'][b][inputs['attention_mask'][b].bool()]
            sequence = torch.cat([prompt, answers[b]])[None]
            pixels = inputs['mllm_pixels'][key_offsets[b]:key_offsets[b + 1]]
            positions, found = find_role_positions(sequence, self.role_ids)
            out, role_attention = self._run_mllm(
                dict(input_ids=sequence, attention_mask=torch.ones_like(sequence),
                     mllm_pixels=pixels),
                capture_positions=positions if self.point_prompts else None)
            prompts = self._project_roles(out.hidden_states, positions)
            # Only role tokens the model generated count (not ones in the prompt).
            found = found & (positions >= prompt.numel())
            sample.pred_text = tokenizer.decode(answers[b], skip_special_tokens=False)
            ori_shape = tuple(sample.ori_shape)
            T = inputs['num_frames'][b]
            if not found[0, 0]:
                print_log(f'video {sample.video_id} expression {sample.exp_id}: the answer '
                          f'{sample.pred_text!r} has no role token; predicting empty masks',
                          logger='current', level=logging.WARNING)
                sample.pred_actor_masks = torch.zeros((T, *ori_shape), dtype=torch.bool,
                                                      device='cpu')  # as the masks below
                sample.pred_target_masks = None
                continue
            roles = [r for r in range(self.num_roles) if found[0, r]]
            num_key = len(sample.key_frame_inds)
            key_prompts = prompts[0, roles][None].expand(num_key, -1, -1)  # (K, R', C)
            if self.point_prompts:
                points = attention_points(role_attention, sequence, self.mllm.image_token_id,
                                          self.mllm.num_image_tokens, num_key)
                key_prompts = key_prompts + self.sam2_head.embed_points(
                    points[0, roles].transpose(0, 1))
            masks = self.sam2_head.predict_video(
                inputs['sam_pixels'][frame_offsets[b]:frame_offsets[b + 1]],
                list(sample.key_frame_inds), key_prompts, ori_shape,
                use_memory=self.test_cfg['use_memory'])  # (R', T, H, W)
            if self.role_mode == 'single' and self.test_cfg['single_mask_as'] == 'target':
                sample.pred_actor_masks = torch.zeros_like(masks[0]).cpu()
                sample.pred_target_masks = masks[0].cpu()
                continue
            sample.pred_actor_masks = masks[0].cpu()
            sample.pred_target_masks = masks[1].cpu() if len(roles) > 1 else None
        return data_samples

    def _answer_ids(self, inputs: dict) -> List[torch.Tensor]:
        """Generated (or forced) answer tokens per sample, cut after the end token."""
        tokenizer = self.mllm.tokenizer
        force = self.test_cfg.get('force_answer')
        if force is not None:
            ids = tokenizer(force, add_special_tokens=False, return_tensors='pt')['input_ids'][0]
            return [ids.to(inputs['input_ids'].device)] * inputs['input_ids'].shape[0]
        generated = self.mllm.generate(
            input_ids=inputs['input_ids'], attention_mask=inputs['attention_mask'],
            pixel_values=inputs['mllm_pixels'], max_new_tokens=self.test_cfg['max_new_tokens'])
        end_ids = {tokenizer.eos_token_id, tokenizer.pad_token_id}
        answers = []
        for row in generated:
            stop = [i for i, t in enumerate(row.tolist()) if t in end_ids]
            answers.append(row[:stop[0] + 1] if stop else row)
        return answers
