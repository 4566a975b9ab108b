"""The MLLM of ReVIOSa on Qwen2.5-VL: transformers' native classes with role tokens and LoRA.

The interface is that of :class:`~mmreviosa.models.mllm.InternVLMLLM` (what
``ReVIOSa`` calls), so the two are interchangeable in a config.  What differs
is inside: each key frame ``(3, S, S)`` becomes Qwen2.5-VL's flattened
patches and ``image_grid_thw`` (:func:`patchify_images`), the prompt marks each
image with ``<|vision_start|>`` (``get_rope_index`` finds the images by it and
gives their tokens 3-D M-RoPE positions), and the vision tower's 2x2 patch
merger gives ``(S / 28) ** 2`` tokens per frame (256 at 448 px).

Two ways to build the network:

* ``pretrained='pretrained/Qwen2.5-VL-3B-Instruct'``: a local folder in the
  published (native transformers) layout, read with ``local_files_only=True``;
* ``config=dict(...)``: random weights, either a small model
  (``dict(vision=dict(...), text=dict(...))``) or the real architecture
  (``dict(preset='qwen2_5_vl_3b')``), e.g. on the meta device to count parameters.
"""
import copy
from typing import List, Optional, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmreviosa.models.mllm.generation import generate_answer
from mmreviosa.models.mllm.internvl import InternVLMLLMOutput
from mmreviosa.models.mllm.lora import apply_adapters
from mmreviosa.models.mllm.qwen2_5_vl_config import qwen2_5_vl_config_from_dict
from mmreviosa.models.mllm.qwen2_5_vl_patches import patchify_images
from mmreviosa.models.mllm.role_attention import ROLE_ATTENTION_PREFIX, register_role_attention
from mmreviosa.models.mllm.token_ids import SpecialTokenIdsMixin
from mmreviosa.models.utils import TrainedStateMixin, compute_in_float32, parse_dtype
from mmreviosa.registry import MODELS
from mmreviosa.text import (IGNORE_INDEX, IM_END_TOKEN, IMAGE_PAD_TOKEN, QWEN_VL_IMAGE_TOKENS,
                            VISION_END_TOKEN, VISION_START_TOKEN, build_tokenizer_from_cfg)
from mmreviosa.utils import check_local_pretrained

#: Full-name regex of the language model's linear layers in ``Qwen2_5_VLForConditionalGeneration``
#: (the vision blocks' ``attn.qkv`` / ``mlp.*_proj`` live under ``model.visual``).
QWEN_VL_LLM_LINEAR_REGEX = (r'model\.language_model\.layers\.\d+\.'
                            r'(self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)')
#: Name prefixes of the language model (decoder and head).
QWEN_VL_LLM_PREFIXES = ('model.language_model.', 'lm_head')

#: Output of :meth:`QwenVLMLLM.forward` (the same fields as InternVL's).
QwenVLMLLMOutput = InternVLMLLMOutput


def _pretrained_hint(path: str) -> str:
    return (f'Put Qwen2.5-VL-3B-Instruct as published (config.json, *.safetensors, tokenizer '
            f'files) in {path}; nothing is downloaded.')


@MODELS.register_module()
class QwenVLMLLM(TrainedStateMixin, SpecialTokenIdsMixin, BaseModule):
    """Native Qwen2.5-VL with the ReVIOSa role tokens, LoRA on the LLM and freezing.

    Args:
        tokenizer (dict | None): the tokenizer config the data pipeline gets; it
            must hold the Qwen-VL image tokens (the published tokenizer does; a
            tiny one gets them with ``extra_tokens=QWEN_VL_IMAGE_TOKENS``). None
            only to count parameters of a ``config`` model.
        pretrained (str, optional): local folder in the published layout.
        config (dict, optional): random-weight model, see
            :func:`qwen2_5_vl_config_from_dict`. Exactly one of ``pretrained`` / ``config``.
        image_size (int): side S of the square frames the data pipeline gives
            (448: 32 x 32 patches of 14, merged 2 x 2 into 256 tokens).
        lora (dict, optional): ``dict(type=peft.LoraConfig, r=128, lora_alpha=256)``;
            ``target_modules`` defaults to :data:`QWEN_VL_LLM_LINEAR_REGEX`.
        freeze_vision_encoder (bool): freeze the vision tower (patch embedding
            and blocks; the merger is the projector).
        freeze_projector (bool): freeze the patch merger (``model.visual.merger``).
        freeze_llm (bool): freeze the language model (decoder and lm_head); the
            role-token rows stay trainable through peft's trainable tokens.
        gradient_checkpointing (bool): with ``use_reentrant=False``.
        attn_implementation (str): attention of the language model ('sdpa',
            'eager' or a role-attention capture name such as 'reviosa_sdpa');
            the vision tower always uses 'sdpa'.
        torch_dtype (str | torch.dtype): 'float32', 'bfloat16' or 'float16';
            trained modules keep float32 weights.
        save_trained_only (bool, optional): default True with ``pretrained``.
        init_cfg (dict, optional): unused.
    """

    def __init__(self,
                 tokenizer: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 config: Optional[dict] = None,
                 image_size: int = 448,
                 lora: Optional[dict] = None,
                 freeze_vision_encoder: bool = True,
                 freeze_projector: bool = False,
                 freeze_llm: bool = True,
                 gradient_checkpointing: bool = False,
                 attn_implementation: str = 'sdpa',
                 torch_dtype: Union[str, torch.dtype] = 'float32',
                 save_trained_only: Optional[bool] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if (pretrained is None) == (config is None):
            raise ValueError('QwenVLMLLM needs exactly one of `pretrained` (a local folder) '
                             'or `config` (random weights)')
        if tokenizer is None and pretrained is not None:
            raise ValueError('QwenVLMLLM(pretrained=...) needs the tokenizer config')
        self.tokenizer = build_tokenizer_from_cfg(tokenizer)
        dtype = parse_dtype(torch_dtype)
        self.model = self._build_model(pretrained, config, attn_implementation, dtype)
        self.image_size = image_size
        unit = self.patch_size * self.merge_size
        if image_size % unit:
            raise ValueError(f'image_size {image_size} must be a multiple of patch_size x '
                             f'spatial_merge_size = {unit}')
        new_token_ids = self._add_tokens()
        self.freeze_vision_encoder = freeze_vision_encoder
        self.freeze_projector = freeze_projector
        self.freeze_llm = freeze_llm
        # peft freezes every pre-existing parameter; trainable parts are set after it.
        self.model.requires_grad_(False)
        peft_model = apply_adapters(self.model, lora, new_token_ids if freeze_llm else (),
                                    default_target_modules=QWEN_VL_LLM_LINEAR_REGEX,
                                    llm_prefixes=QWEN_VL_LLM_PREFIXES)
        # A list keeps the wrapper out of the module tree (its names would repeat ours).
        self._peft_holder = [peft_model] if peft_model is not None else []
        for name, module in self.vision_model.named_children():
            if name != 'merger':
                module.requires_grad_(not freeze_vision_encoder)
        self.projector.requires_grad_(not freeze_projector)
        if not freeze_llm:
            self.language_model.requires_grad_(True)
            self.model.lm_head.requires_grad_(True)
        if dtype != torch.float32:
            self._keep_trained_in_float32()
        self._trained_names = [n for n, p in self.named_parameters() if p.requires_grad]
        self.save_trained_only = (pretrained is not None if save_trained_only is None
                                  else save_trained_only)
        if gradient_checkpointing:
            self.model.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs={'use_reentrant': False})

    # ------------------------------------------------------------------ build
    def _build_model(self, pretrained, config, attn_implementation, dtype):
        from transformers import Qwen2_5_VLForConditionalGeneration
        if attn_implementation.startswith(ROLE_ATTENTION_PREFIX):
            register_role_attention(attn_implementation[len(ROLE_ATTENTION_PREFIX):])
        attn = {'': 'sdpa', 'vision_config': 'sdpa', 'text_config': attn_implementation}
        if pretrained is not None:
            # Local only: a missing folder must not turn into a hub download of that name.
            check_local_pretrained(pretrained, 'QwenVLMLLM pretrained',
                                   _pretrained_hint(pretrained))
            model = Qwen2_5_VLForConditionalGeneration.from_pretrained(
                pretrained, dtype=dtype, attn_implementation=attn, local_files_only=True)
        else:
            hf_config = qwen2_5_vl_config_from_dict(
                config, None if self.tokenizer is None else len(self.tokenizer))
            # _from_config writes the attention choice into the config it gets: give it a copy.
            model = Qwen2_5_VLForConditionalGeneration._from_config(
                copy.deepcopy(hf_config), attn_implementation=attn, dtype=dtype)
        model.config.text_config.use_cache = False
        return model

    def _keep_trained_in_float32(self) -> None:
        """Trained modules of a half-precision model keep float32 weights.

        peft already keeps LoRA and the trainable token rows in float32; the
        parts trained in full (the patch merger by default) are cast here.
        """
        vision_blocks = [m for n, m in self.vision_model.named_children() if n != 'merger']
        parts = [*[(m, not self.freeze_vision_encoder) for m in vision_blocks],
                 (self.projector, not self.freeze_projector),
                 (self.language_model, not self.freeze_llm),
                 (self.model.lm_head, not self.freeze_llm)]
        for module, trained in parts:
            if trained:
                compute_in_float32(module)

    def _add_tokens(self) -> List[int]:
        """Resize the embeddings for the tokenizer; record the special token ids.

        Returns:
            The ids whose embedding / lm_head rows must learn: the role tokens
            and any row the resize added.
        """
        if self.tokenizer is None:
            self._record_token_ids(None)
            return []
        vocab = self.tokenizer.get_vocab()
        self._record_token_ids(vocab)
        missing = [t for t in QWEN_VL_IMAGE_TOKENS if t not in vocab]
        if missing:
            raise KeyError(f'Tokens {missing} are not in the tokenizer: a Qwen2.5-VL tokenizer '
                           f'has them; add them to another with build_role_tokenizer('
                           f'extra_tokens=QWEN_VL_IMAGE_TOKENS)')
        old_rows = self.model.get_input_embeddings().weight.shape[0]
        # Never shrink: the published checkpoint has spare rows beyond the tokenizer.
        if len(self.tokenizer) > old_rows:
            on_meta = self.model.get_input_embeddings().weight.is_meta
            self.model.resize_token_embeddings(len(self.tokenizer), mean_resizing=not on_meta)
        new_rows = self.model.get_input_embeddings().weight.shape[0]
        # get_rope_index finds each image by its <|vision_start|> followed by <|image_pad|>.
        self.model.config.image_token_id = vocab[IMAGE_PAD_TOKEN]
        self.model.config.vision_start_token_id = vocab[VISION_START_TOKEN]
        self.model.config.vision_end_token_id = vocab[VISION_END_TOKEN]
        return sorted(set(self.role_token_ids.values()) | set(range(old_rows, new_rows)))

    def init_weights(self):
        """Do nothing: weights come from ``pretrained`` or transformers' init at build."""

    # ------------------------------------------------------------- properties
    @property
    def language_model(self):
        """The decoder (``Qwen2_5_VLTextModel``) whose attention layers the AML reads."""
        return self.model.model.language_model

    @property
    def vision_model(self):
        """The vision tower (``Qwen2_5_VisionTransformerPretrainedModel``), merger included."""
        return self.model.model.visual

    @property
    def projector(self):
        """The 2x2 patch merger (RMSNorm + MLP into the LLM's width)."""
        return self.model.model.visual.merger

    @property
    def hidden_size(self) -> int:
        return self.model.config.text_config.hidden_size

    @property
    def image_token_id(self) -> int:
        return self.model.config.image_token_id

    @property
    def vision_start_token_id(self) -> int:
        return self.model.config.vision_start_token_id

    @property
    def im_end_token_id(self) -> int:
        return self.tokenizer.convert_tokens_to_ids(IM_END_TOKEN)

    @property
    def patch_size(self) -> int:
        return self.model.config.vision_config.patch_size

    @property
    def merge_size(self) -> int:
        return self.model.config.vision_config.spatial_merge_size

    @property
    def num_image_tokens(self) -> int:
        """Visual tokens per image after the 2x2 merge: (S / (patch * merge))^2."""
        return (self.image_size // (self.patch_size * self.merge_size)) ** 2

    # ----------------------------------------------------------------- inputs
    def _check_inputs(self, input_ids, attention_mask, pixel_values, labels=None) -> None:
        if input_ids.dim() != 2:
            raise ValueError(f'input_ids must be (B, L), got {tuple(input_ids.shape)}')
        max_positions = self.model.config.text_config.max_position_embeddings
        if input_ids.shape[1] > max_positions:
            raise ValueError(f'input_ids have {input_ids.shape[1]} tokens, more than the '
                             f'{max_positions} positions of the language model '
                             f'(max_position_embeddings): shorten the expression')
        for name, tensor in (('attention_mask', attention_mask), ('labels', labels)):
            if tensor is not None and tensor.shape != input_ids.shape:
                raise ValueError(f'{name} {tuple(tensor.shape)} must match input_ids '
                                 f'{tuple(input_ids.shape)}')
        num_images = 0
        if pixel_values is not None:
            size = (3, self.image_size, self.image_size)
            if pixel_values.dim() != 4 or tuple(pixel_values.shape[1:]) != size:
                raise ValueError(f'pixel_values must be (N_img, {size[0]}, {size[1]}, '
                                 f'{size[2]}), got {tuple(pixel_values.shape)}')
            num_images = pixel_values.shape[0]
        num_tokens = int((input_ids == self.image_token_id).sum())
        if num_tokens != num_images * self.num_image_tokens:
            raise ValueError(
                f'input_ids hold {num_tokens} image tokens (id {self.image_token_id}) but '
                f'{num_images} images x {self.num_image_tokens} tokens per image = '
                f'{num_images * self.num_image_tokens} are needed')
        starts = input_ids[:, :-1] == self.vision_start_token_id
        num_starts = int((starts & (input_ids[:, 1:] == self.image_token_id)).sum())
        if num_starts != num_images:
            raise ValueError(
                f'input_ids hold {num_starts} {VISION_START_TOKEN}{IMAGE_PAD_TOKEN} image '
                f'starts for {num_images} images: M-RoPE finds each image by its start '
                f'(build the prompt with chat_format="qwen2_5_vl")')

    def image_inputs(self, pixel_values: Optional[torch.Tensor]):
        """(N_img, 3, S, S) frames -> dict of the native model's ``pixel_values`` and
        ``image_grid_thw`` (empty without images)."""
        if pixel_values is None:
            return {}
        vision = self.model.config.vision_config
        patches, grid_thw = patchify_images(pixel_values, vision.patch_size,
                                            vision.temporal_patch_size,
                                            vision.spatial_merge_size)
        return dict(pixel_values=patches, image_grid_thw=grid_thw)

    # ---------------------------------------------------------------- compute
    def forward(self,
                input_ids: torch.Tensor,
                attention_mask: Optional[torch.Tensor] = None,
                pixel_values: Optional[torch.Tensor] = None,
                labels: Optional[torch.Tensor] = None,
                return_logits: bool = False,
                **kwargs) -> InternVLMLLMOutput:
        """Run the MLLM on a batch of token sequences with their images.

        Args:
            input_ids: (B, L) long, each image as ``<|vision_start|>`` then
                ``num_image_tokens`` ``<|image_pad|>`` ids.
            attention_mask: (B, L) 1 for tokens, 0 for padding.
            pixel_values: (N_img, 3, S, S) float, the images in the order their
                blocks appear in the batch (row-major).
            labels: (B, L) long, -100 where no loss is taken.
            return_logits: also return the (B, L, V) logits.
            **kwargs: passed to the native ``Qwen2_5_VLModel``. Without
                ``position_ids`` it computes the M-RoPE positions itself
                (``get_rope_index`` over ``image_grid_thw`` and the padding).

        Returns:
            InternVLMLLMOutput: ``loss``, ``hidden_states`` (B, L, D) after the
            final norm, ``logits``.
        """
        self._check_inputs(input_ids, attention_mask, pixel_values, labels)
        kwargs.setdefault('use_cache', False)
        outputs = self.model.model(input_ids=input_ids, attention_mask=attention_mask,
                                   **self.image_inputs(pixel_values), **kwargs)
        hidden_states = outputs.last_hidden_state
        loss = None if labels is None else self._lm_loss(hidden_states, labels)
        logits = self.model.lm_head(hidden_states) if return_logits else None
        return InternVLMLLMOutput(loss=loss, hidden_states=hidden_states, logits=logits)

    def _lm_loss(self, hidden_states: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Next-token cross-entropy, with lm_head applied to the labelled positions only."""
        targets = labels[:, 1:]
        valid = targets != IGNORE_INDEX
        selected = hidden_states[:, :-1][valid]
        if selected.shape[0] == 0:
            return hidden_states.sum() * 0.0
        logits = self.model.lm_head(selected).float()
        return F.cross_entropy(logits, targets[valid])

    @torch.no_grad()
    def generate(self,
                 input_ids: torch.Tensor,
                 attention_mask: Optional[torch.Tensor] = None,
                 pixel_values: Optional[torch.Tensor] = None,
                 max_new_tokens: int = 16,
                 **kwargs) -> torch.Tensor:
        """Generate an answer (greedy by default), stopping at ``<|im_end|>``.

        Args:
            input_ids: (B, L) prompts ending with the assistant header; right
                padding is moved to the left first.
            attention_mask: (B, L), None for no padding.
            pixel_values: (N_img, 3, S, S).
            max_new_tokens: most tokens to generate.
            **kwargs: ``GenerationConfig`` overrides.

        Returns:
            (B, L_new) long: the new tokens only, ``<|im_end|>`` included;
            sequences that stopped early are padded with the pad id.
        """
        self._check_inputs(input_ids, attention_mask, pixel_values)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        images = self.image_inputs(pixel_values)
        return generate_answer(self.model, input_ids, attention_mask,
                               images.pop('pixel_values', None),
                               eos_token_id=self.im_end_token_id,
                               pad_token_id=self.tokenizer.pad_token_id,
                               max_new_tokens=max_new_tokens, **images, **kwargs)

    # ----------------------------------------------------- checkpoints, export
    def trained_parameter_names(self) -> List[str]:
        """Names (relative to this module) of the parameters trained by the config."""
        return list(self._trained_names)

    def num_parameters(self, include_adapters: bool = False) -> int:
        """Number of parameters; without the LoRA / trainable-token adapters by default."""
        adapter_keys = ('lora_', 'trainable_tokens_')
        return sum(p.numel() for n, p in self.named_parameters()
                   if include_adapters or not any(k in n for k in adapter_keys))

    def merge_lora(self):
        """Merge LoRA and the trained token rows into the weights, in place.

        Returns:
            Qwen2_5_VLForConditionalGeneration: the plain native model.
        """
        if self._peft_holder:
            self.model = self._peft_holder.pop().merge_and_unload()
        self._trained_names = []
        self.save_trained_only = False
        return self.model
