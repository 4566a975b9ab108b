"""ReVIOSa: an MLLM whose role tokens prompt SAM2 (InterRVOS, CVPR 2026)."""
import logging
from dataclasses import dataclass
from itertools import accumulate
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModel
from torch import nn

from mmreviosa.models.utils import CheckpointFactsMixin, module_dtype
from mmreviosa.registry import MODELS
from mmreviosa.structures import InterRVOSDataSample
from mmreviosa.text import ROLE_TOKENS

from .plugin_inputs import AuxLossInputs, RoleAttention
from .role_utils import (MODE_ROLE_TOKENS, find_role_positions, gather_positions, gt_role_masks,
                         key_frame_masks, repeat_over_frames, role_token_ids_of,
                         supervised_roles, visual_token_positions)
from .turns import layout_turns

#: ``test_cfg`` keys and their defaults.
TEST_CFG_DEFAULTS = dict(max_new_tokens=32, force_answer=None, single_mask_as='actor')


@dataclass
class ReVIOSaTensorOutput:
    """Raw outputs of ``mode='tensor'``.

    Attributes:
        mask_logits (Tensor): (sum T_e, R, h, w) low-resolution SAM2 logits,
            frames of all expressions concatenated, R role tokens.
        role_prompts (Tensor): (E, R, C) prompts given to SAM2.
        role_found (Tensor): (E, R) bool, whether each role token is present.
        lm_loss (Tensor | None): language-model loss on the answer.

    E: the expressions, one per item or each turn of packed items, in order.
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
class ReVIOSa(CheckpointFactsMixin, BaseModel):
    """Interaction-aware referring video object segmentation.

    The MLLM reads the key frames and the expression and answers with role
    tokens ("Sure, it is [SEG_ACT] and [SEG_TAR]."); the last-layer hidden
    state of each role token is projected into SAM2's prompt space and
    prompts SAM2's mask decoder on every frame. Training losses: the LM loss on
    the answer, the SAM2 head's mask CE + Dice per role, and the Attention Mask
    Loss between each role token's attention over the visual tokens and its GT
    mask. ``role_mode='single'`` is the single-[SEG] baseline (one mask, the actor).

    Training items may pack several expressions of a video as turns of one conversation
    (``inputs['num_turns']``, :mod:`~mmreviosa.models.segmentors.turns`): the MLLM and SAM2's
    image encoder run once per item, every loss once per expression (the LM loss over all
    answers' tokens); a turn's role tokens see the earlier turns, never the later ones.

    Optional plug-ins (:mod:`~mmreviosa.models.segmentors.plugin_inputs` says how they
    are called; :mod:`mmreviosa.models.training_aids` has the ones the tiny configs use)
    add point prompts or auxiliary losses; none is part of the paper's model.

    Args:
        mllm (dict | nn.Module): the MLLM, e.g. ``InternVLMLLM``.
        sam2_head (dict | nn.Module): the SAM2 head, e.g. ``SAM2Head``.
        projector (dict | nn.Module, optional): role-token projector; a dict gets
            ``in_dim`` (the MLLM's hidden size) and ``out_dim`` (the head's
            ``prompt_dim``) unless it sets them. Default: ``RoleTokenProjector``.
        role_mode (str): 'roles' (ReVIOSa) or 'single' (one [SEG] token); the
            pipeline's ``TokenizeConversation`` must write the same answers.
        loss_aml (dict | nn.Module, optional): the Attention Mask Loss; None
            disables it.
        aml_layers (list[int]): LLM layers whose role-token attention is captured:
            supervised by ``loss_aml`` (the paper: 21-23 of the 1B model's 24 layers)
            and read by ``point_prompter``.
        aml_heads (list[int], optional): heads to capture; None = all.
        lm_loss_weight (float): weight of the language-model loss, which the MLLM's
            forward computes.
        point_prompter (dict | nn.Module, optional): adds to the role prompts from the
            captured attention, e.g. ``AttentionPointPrompts``.
        aux_losses (list[dict | nn.Module]): auxiliary losses, each called on every
            training batch with an :class:`AuxLossInputs` and returning its own weighted
            ``loss_*`` terms, e.g. ``VisualPromptMaskLoss``.
        test_cfg (dict): ``max_new_tokens`` (int), ``force_answer`` (str | None: skip
            generation and use this answer, e.g. for probing), ``single_mask_as``
            ('actor' | 'target': with ``role_mode='single'``, which prediction the
            [SEG] mask becomes; 'target' probes the single-token model for the target
            zero-shot, leaving empty actor masks). Whether SAM2's video memory carries
            the masks is the head's ``use_memory``.
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
                 lm_loss_weight: float = 1.0,
                 point_prompter: Union[dict, nn.Module, None] = None,
                 aux_losses: Sequence[Union[dict, nn.Module]] = (),
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if role_mode not in MODE_ROLE_TOKENS:
            raise ValueError(
                f'role_mode must be one of {list(MODE_ROLE_TOKENS)}, got {role_mode!r}')
        unknown = set(test_cfg or {}) - set(TEST_CFG_DEFAULTS)
        if unknown:
            raise ValueError(f'unknown test_cfg keys {sorted(unknown)} (known: '
                             f'{sorted(TEST_CFG_DEFAULTS)}; SAM2 video memory is '
                             'SAM2Head(use_memory=...))')
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
            projector = dict(type='RoleTokenProjector')
        self.projector = _build(projector, in_dim=self.mllm.hidden_size,
                                out_dim=self.sam2_head.prompt_dim)
        self.role_mode = role_mode
        # An MLLM built without a tokenizer (parameter counting) has no token ids.
        self.role_ids = role_token_ids_of(
            self.mllm.role_token_ids or {t: -1 for t in ROLE_TOKENS}, role_mode)
        self.loss_aml = _build(loss_aml)
        if self.loss_aml is not None and not aml_layers:
            raise ValueError('loss_aml is set but aml_layers is empty')
        self.aml_layers = list(aml_layers or [])
        self.aml_heads = aml_heads
        self.lm_loss_weight = lm_loss_weight
        self.point_prompter = _build(point_prompter)
        if self.point_prompter is not None and not self.aml_layers:
            raise ValueError('point_prompter reads role-token attention: set aml_layers')
        self.aux_losses = nn.ModuleList(_build(loss) for loss in aux_losses)
        if any(getattr(plugin, 'uses_point_embedding', False)
               for plugin in [self.point_prompter, *self.aux_losses]):
            self.sam2_head.train_point_embedding()
        self.test_cfg = dict(TEST_CFG_DEFAULTS, **(test_cfg or {}))
        self._token_ids_checked = False

    # ------------------------------------------------------------------ utils
    @property
    def num_roles(self) -> int:
        return len(self.role_ids)

    @property
    def role_names(self) -> tuple:
        """Role names in loss keys, in role-token order."""
        return ('seg', ) if self.role_mode == 'single' else ('actor', 'target')

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
        return self.loss_aml is not None or self.point_prompter is not None

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

    def _project_roles(self, hidden: torch.Tensor, positions: torch.Tensor,
                       items: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B, L, D) hidden states at (E, R) role positions -> (E, R, C) SAM2 prompts.

        ``items`` (E,): the sequence of each row of ``positions`` (default: row b is
        sequence b). The hidden states come in the MLLM's dtype (bf16 with bf16 weights);
        the projector, a trained module, keeps float32 weights and its own dtype.
        """
        role_hidden = gather_positions(hidden, positions, items)
        return self.projector(role_hidden.to(module_dtype(self.projector)))

    def _role_attention(self, rows: torch.Tensor, input_ids: torch.Tensor,
                        num_key_frames: int) -> RoleAttention:
        return RoleAttention(rows, input_ids, self.mllm.image_token_id,
                             self.mllm.num_image_tokens, num_key_frames)

    def _add_attention_points(self, frame_prompts: torch.Tensor, rows: torch.Tensor,
                              inputs: dict, data_samples: List[InterRVOSDataSample]
                              ) -> torch.Tensor:
        """(sum T_b, R, C) prompts plus the point prompter's addition on every frame."""
        attention = self._role_attention(rows, inputs['input_ids'], inputs['num_key_frames'][0])
        return self.point_prompter.add_to_frames(
            frame_prompts, attention, [s.key_frame_inds for s in data_samples],
            inputs['num_frames'], self.sam2_head)

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
        turns = layout_turns(inputs, self.role_ids)
        out, role_attention = self._run_mllm(
            inputs, capture_positions=turns.capture if self.point_prompter is not None else None)
        prompts = self._project_roles(out.hidden_states, turns.positions, turns.items)
        feats = turns.features(self.sam2_head.extract_features(inputs['sam_pixels']))
        frame_prompts = repeat_over_frames(prompts, turns.inputs['num_frames'])
        if self.point_prompter is not None:
            if data_samples is None:
                raise ValueError('mode="tensor" with a point_prompter needs data_samples '
                                 '(their key_frame_inds place the points)')
            frame_prompts = self._add_attention_points(
                frame_prompts, turns.attention(role_attention), turns.inputs, data_samples)
        logits = self.sam2_head.decode(feats, frame_prompts)
        return ReVIOSaTensorOutput(logits, prompts, turns.found, out.loss)

    def loss(self, inputs: dict,
             data_samples: List[InterRVOSDataSample]) -> Dict[str, torch.Tensor]:
        """Teacher-forced training step.

        Returns:
            dict: per role ``loss_{role}_mask`` and ``loss_{role}_dice`` (role =
            actor/target, or seg for the single-token baseline); the auxiliary losses'
            terms; ``loss_lm``; ``loss_aml`` when the AML is on.
        """
        self._check_token_ids(data_samples)
        turns = layout_turns(inputs, self.role_ids)  # expressions: one per turn
        turn_inputs = turns.inputs
        num_frames = turn_inputs['num_frames']
        weights = supervised_roles(data_samples, turns.found, self.role_ids)  # (E, R)
        out, role_attention = self._run_mllm(inputs, capture_positions=turns.capture)
        role_attention = turns.attention(role_attention)
        prompts = self._project_roles(out.hidden_states, turns.positions, turns.items)

        feats = turns.features(self.sam2_head.extract_features(inputs['sam_pixels']))
        role_prompts = repeat_over_frames(prompts, num_frames)  # (N, R, C)
        frame_prompts = role_prompts
        if self.point_prompter is not None:
            frame_prompts = self._add_attention_points(frame_prompts, role_attention,
                                                       turn_inputs, data_samples)
        logits = self.sam2_head.decode(feats, frame_prompts)  # (N, R, h, w)
        gt = gt_role_masks(data_samples, self.num_roles, inputs['sam_pixels'].shape[-1])
        frame_weights = repeat_over_frames(weights, num_frames)  # (N, R)

        losses = self.sam2_head.loss_by_role(logits, gt, frame_weights, self.role_names)
        if len(self.aux_losses):
            aux_inputs = AuxLossInputs(feats, role_prompts, gt, frame_weights, self.role_names,
                                       list(num_frames))
            for aux_loss in self.aux_losses:
                aux_terms = aux_loss(aux_inputs, self.sam2_head)
                clash = set(aux_terms) & set(losses)
                if clash:
                    raise KeyError(f'{type(aux_loss).__name__} returns {sorted(clash)}, '
                                   'which another loss already returns')
                losses.update(aux_terms)
        if out.loss is not None:
            losses['loss_lm'] = out.loss * self.lm_loss_weight
        if self.loss_aml is not None:
            losses['loss_aml'] = self._aml_loss(role_attention, turn_inputs, gt, weights,
                                                data_samples)
        return losses

    def _aml_loss(self, role_attention: torch.Tensor, inputs: dict, gt: torch.Tensor,
                  weights: torch.Tensor, data_samples: List[InterRVOSDataSample]
                  ) -> torch.Tensor:
        """Attention Mask Loss over the key frames of each sample.

        Args:
            role_attention: (B, n_layers, n_heads, R, L) captured attention rows.
            inputs: ``input_ids``, ``num_frames`` and ``num_key_frames`` of each sample.
            gt: (sum T_b, R, S, S) GT masks of every frame.
            weights: (B, R) supervised roles.
        """
        tokens_per_frame = self.mllm.num_image_tokens
        num_key = inputs['num_key_frames']
        visual_pos = visual_token_positions(inputs['input_ids'], self.mllm.image_token_id,
                                            [k * tokens_per_frame for k in num_key])
        grid = int(round(tokens_per_frame ** 0.5))
        key_masks = key_frame_masks(gt, data_samples, inputs['num_frames'])
        return self.loss_aml(role_attention, visual_pos, key_masks, weights > 0,
                             (num_key[0], grid, grid))

    @torch.no_grad()
    def predict(self, inputs: dict, data_samples: List[InterRVOSDataSample]
                ) -> List[InterRVOSDataSample]:
        """Generate the answer, then segment each role token it contains.

        Sets ``pred_text``, ``pred_actor_masks`` (T, H, W) bool at the original
        size and ``pred_target_masks`` (T, H, W) bool, or None when the answer
        has no [SEG_TAR] (the fallback to plain RVOS).
        """
        self._check_token_ids(data_samples)
        if any(n != 1 for n in inputs.get('num_turns') or []):
            raise ValueError('predict takes one expression per item; packed items (several '
                             'turns) are a training layout')
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
                capture_positions=positions if self.point_prompter is not None else None)
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
            if self.point_prompter is not None:
                key_prompts = self.point_prompter.add_to_key_frames(
                    key_prompts, self._role_attention(role_attention, sequence, num_key), roles,
                    self.sam2_head)
            masks = self.sam2_head.predict_video(
                inputs['sam_pixels'][frame_offsets[b]:frame_offsets[b + 1]],
                list(sample.key_frame_inds), key_prompts, ori_shape)  # (R', T, H, W)
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
