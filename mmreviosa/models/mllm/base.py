"""What the native-transformers MLLMs of ReVIOSa share: build, role tokens, LoRA, loss, generation.

A backbone (:class:`~mmreviosa.models.mllm.InternVLMLLM`,
:class:`~mmreviosa.models.mllm.QwenVLMLLM`) subclasses :class:`MLLMBase` and says only what
differs: its native class and config (:meth:`~MLLMBase._native_class`,
:meth:`~MLLMBase._config_from_dict`), where its vision tower and projector live, how its image
tokens are set in the config (:meth:`~MLLMBase._set_image_token_ids`), how a frame becomes the
native model's image inputs (:meth:`~MLLMBase.image_inputs`) and how many tokens it gives
(``num_image_tokens``).
"""
import copy
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn

from mmreviosa.models.mllm.generation import generate_answer
from mmreviosa.models.mllm.lora import LLM_LINEAR_REGEX, LLM_PREFIXES, apply_adapters
from mmreviosa.models.mllm.role_attention import ROLE_ATTENTION_PREFIX, register_role_attention
from mmreviosa.models.mllm.token_ids import SpecialTokenIdsMixin
from mmreviosa.models.utils import TrainedStateMixin, compute_in_float32, parse_dtype
from mmreviosa.text import IGNORE_INDEX, IM_END_TOKEN, build_tokenizer_from_cfg
from mmreviosa.utils import check_local_pretrained


@dataclass
class MLLMOutput:
    """Output of :meth:`MLLMBase.forward`.

    Attributes:
        loss: scalar LM loss (mean cross-entropy over the tokens whose label is
            not -100), None without labels.
        hidden_states: (B, L, D) last-layer hidden states (after the final norm).
        logits: (B, L, V) with ``return_logits=True``, else None.
    """
    loss: Optional[torch.Tensor]
    hidden_states: torch.Tensor
    logits: Optional[torch.Tensor] = None


class MLLMBase(TrainedStateMixin, SpecialTokenIdsMixin, BaseModule):
    """A native transformers MLLM with the ReVIOSa role tokens, LoRA on the LLM and freezing.

    The arguments are those of the subclasses (see :class:`InternVLMLLM`).
    """

    #: LoRA's ``target_modules`` when the ``lora`` config names none.
    lora_target_regex: str = LLM_LINEAR_REGEX
    #: Name prefixes of the language model (decoder and head); adapters elsewhere are refused.
    llm_prefixes: Sequence[str] = LLM_PREFIXES

    def __init__(self,
                 tokenizer: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 config: Optional[dict] = None,
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
        name = type(self).__name__
        if (pretrained is None) == (config is None):
            raise ValueError(f'{name} needs exactly one of `pretrained` (a local folder in the '
                             f'native transformers layout) or `config` (random weights)')
        if tokenizer is None and pretrained is not None:
            raise ValueError(f'{name}(pretrained=...) needs the tokenizer config')
        self.tokenizer = build_tokenizer_from_cfg(tokenizer)
        dtype = parse_dtype(torch_dtype)
        self.model = self._build_model(pretrained, config, attn_implementation, dtype)
        new_token_ids = self._add_tokens()
        self.freeze_vision_encoder = freeze_vision_encoder
        self.freeze_projector = freeze_projector
        self.freeze_llm = freeze_llm
        # peft freezes every pre-existing parameter; trainable parts are set after it.
        self.model.requires_grad_(False)
        peft_model = apply_adapters(self.model, lora, new_token_ids if freeze_llm else (),
                                    default_target_modules=self.lora_target_regex,
                                    llm_prefixes=self.llm_prefixes)
        # A list keeps the wrapper out of the module tree (its names would repeat ours).
        self._peft_holder = [peft_model] if peft_model is not None else []
        for module in self._vision_encoder_modules():
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

    # ------------------------------------------------------- backbone specifics
    @staticmethod
    def _native_class():
        """The transformers ``*ForConditionalGeneration`` class of the backbone."""
        raise NotImplementedError

    @staticmethod
    def _config_from_dict(config: dict, vocab_size: Optional[int]):
        """The native config of a ``config`` argument (random weights)."""
        raise NotImplementedError

    @staticmethod
    def _missing_hint(path: str) -> str:
        """What to do when the ``pretrained`` folder is missing."""
        return f'put the model in the native transformers layout in {path}; nothing is downloaded'

    def _check_native_model(self, model: nn.Module) -> None:
        """Raise if the built native model has a setting the wrapper does not support."""

    def _set_image_token_ids(self, vocab: Dict[str, int]) -> None:
        """Write the tokenizer's image-token ids into ``self.model.config``."""
        raise NotImplementedError

    def _vision_encoder_modules(self) -> List[nn.Module]:
        """The modules ``freeze_vision_encoder`` freezes (the projector excluded)."""
        return [self.vision_model]

    @property
    def vision_model(self) -> nn.Module:
        raise NotImplementedError

    @property
    def projector(self) -> nn.Module:
        raise NotImplementedError

    @property
    def num_image_tokens(self) -> int:
        raise NotImplementedError

    @property
    def image_shape(self) -> Tuple[int, int, int]:
        """(3, H, W) of each frame ``pixel_values`` holds."""
        raise NotImplementedError

    def image_inputs(self, pixel_values: Optional[torch.Tensor]) -> dict:
        """(N_img, 3, H, W) frames -> the image keyword arguments of the native model."""
        return {} if pixel_values is None else dict(pixel_values=pixel_values)

    # ------------------------------------------------------------------ build
    def _build_model(self, pretrained, config, attn_implementation, dtype):
        native_class = self._native_class()
        if attn_implementation.startswith(ROLE_ATTENTION_PREFIX):
            # Names of the role-attention capture are registered on first use.
            register_role_attention(attn_implementation[len(ROLE_ATTENTION_PREFIX):])
        attn = {'': 'sdpa', 'vision_config': 'sdpa', 'text_config': attn_implementation}
        if pretrained is not None:
            # Local only: a missing folder must not turn into a hub download of that name.
            check_local_pretrained(pretrained, f'{type(self).__name__} pretrained',
                                   self._missing_hint(pretrained))
            model = native_class.from_pretrained(
                pretrained, dtype=dtype, attn_implementation=attn, local_files_only=True)
        else:
            hf_config = self._config_from_dict(
                config, None if self.tokenizer is None else len(self.tokenizer))
            # _from_config writes the attention choice into the config it gets: give it a copy.
            model = native_class._from_config(
                copy.deepcopy(hf_config), attn_implementation=attn, dtype=dtype)
        self._check_native_model(model)
        model.config.text_config.use_cache = False
        return model

    def _keep_trained_in_float32(self) -> None:
        """Trained modules of a half-precision model keep float32 weights.

        peft already keeps LoRA and the trainable token rows in float32; the
        parts trained in full (the projector by default) are cast here.
        """
        parts = [*[(m, not self.freeze_vision_encoder) for m in self._vision_encoder_modules()],
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
        old_rows = self.model.get_input_embeddings().weight.shape[0]
        # Never shrink: checkpoints often carry spare rows beyond the tokenizer.
        if len(self.tokenizer) > old_rows:
            on_meta = self.model.get_input_embeddings().weight.is_meta
            self.model.resize_token_embeddings(len(self.tokenizer), mean_resizing=not on_meta)
        new_rows = self.model.get_input_embeddings().weight.shape[0]
        self._set_image_token_ids(vocab)
        return sorted(set(self.role_token_ids.values()) | set(range(old_rows, new_rows)))

    def init_weights(self):
        """Do nothing: weights come from ``pretrained`` or transformers' init at build.

        (MMEngine calls ``init_weights`` of every child; transformers' own
        ``init_weights`` would re-initialise loaded weights.)
        """

    # ------------------------------------------------------------- properties
    @property
    def language_model(self) -> nn.Module:
        """The decoder whose attention layers the AML reads."""
        return self.model.model.language_model

    @property
    def hidden_size(self) -> int:
        return self.model.config.text_config.hidden_size

    @property
    def image_token_id(self) -> int:
        return self.model.config.image_token_id

    @property
    def im_end_token_id(self) -> int:
        return self.tokenizer.convert_tokens_to_ids(IM_END_TOKEN)

    # ----------------------------------------------------------------- checks
    def _check_inputs(self, input_ids, attention_mask, pixel_values, labels=None) -> None:
        if input_ids.dim() != 2:
            raise ValueError(f'input_ids must be (B, L), got {tuple(input_ids.shape)}')
        # Past its positions the LLM runs on without an error, and much worse.
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
            size = tuple(self.image_shape)
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

    # ---------------------------------------------------------------- compute
    def forward(self,
                input_ids: torch.Tensor,
                attention_mask: Optional[torch.Tensor] = None,
                pixel_values: Optional[torch.Tensor] = None,
                labels: Optional[torch.Tensor] = None,
                return_logits: bool = False,
                **kwargs) -> MLLMOutput:
        """Run the MLLM on a batch of token sequences with their images.

        Args:
            input_ids: (B, L) long, with ``num_image_tokens`` image-token ids
                per image (laid out as the backbone's chat format says).
            attention_mask: (B, L) 1 for tokens, 0 for padding.
            pixel_values: (N_img, 3, S, S) float, the images in the order their
                blocks appear in the batch (row-major).
            labels: (B, L) long, -100 where no loss is taken; the token at
                position t is predicted from positions < t.
            return_logits: also return the (B, L, V) logits (costly at V=151k).
            **kwargs: passed to the native base model (e.g. ``position_ids``).

        Returns:
            MLLMOutput: ``loss``, ``hidden_states`` (B, L, D), ``logits``.
        """
        self._check_inputs(input_ids, attention_mask, pixel_values, labels)
        kwargs.setdefault('use_cache', False)
        outputs = self.model.model(input_ids=input_ids, attention_mask=attention_mask,
                                   **self.image_inputs(pixel_values), **kwargs)
        hidden_states = outputs.last_hidden_state
        loss = None if labels is None else self._lm_loss(hidden_states, labels)
        logits = self.model.lm_head(hidden_states) if return_logits else None
        return MLLMOutput(loss=loss, hidden_states=hidden_states, logits=logits)

    def _lm_loss(self, hidden_states: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Next-token cross-entropy, with lm_head applied to the labelled positions only."""
        targets = labels[:, 1:]
        valid = targets != IGNORE_INDEX
        selected = hidden_states[:, :-1][valid]
        if selected.shape[0] == 0:
            # No answer tokens: a zero that still belongs to the graph.
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

        Right-padded batches (the training layout) are moved to left padding first.

        Args:
            input_ids: (B, L) prompts ending with the assistant header.
            attention_mask: (B, L), None for no padding.
            pixel_values: (N_img, 3, S, S).
            max_new_tokens: most tokens to generate.
            **kwargs: ``GenerationConfig`` overrides (``do_sample``, ``num_beams``...).

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

    def merge_lora(self) -> nn.Module:
        """Merge LoRA and the trained token rows into the weights, in place.

        Returns:
            The plain native model (``save_pretrained`` it with ``self.tokenizer``
            for export). This wrapper then holds it, without adapters, and saves
            its full state dict.
        """
        if self._peft_holder:
            self.model = self._peft_holder.pop().merge_and_unload()
        self._trained_names = []
        self.save_trained_only = False
        return self.model
