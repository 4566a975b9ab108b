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
from typing import Dict, List, Optional, Union

import torch
from torch import nn

from mmreviosa.models.mllm.base import MLLMBase, MLLMOutput
from mmreviosa.models.mllm.qwen2_5_vl_config import qwen2_5_vl_config_from_dict
from mmreviosa.models.mllm.qwen2_5_vl_patches import patchify_images
from mmreviosa.registry import MODELS
from mmreviosa.text import (IMAGE_PAD_TOKEN, QWEN_VL_IMAGE_TOKENS, VISION_END_TOKEN,
                            VISION_START_TOKEN)

#: Full-name regex of the language model's linear layers in ``Qwen2_5_VLForConditionalGeneration``
#: (the vision blocks' ``attn.qkv`` / ``mlp.*_proj`` live under ``model.visual``).
QWEN_VL_LLM_LINEAR_REGEX = (r'model\.language_model\.layers\.\d+\.'
                            r'(self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)')
#: Name prefixes of the language model (decoder and head).
QWEN_VL_LLM_PREFIXES = ('model.language_model.', 'lm_head')

#: Output of :meth:`QwenVLMLLM.forward` (the same fields as InternVL's).
QwenVLMLLMOutput = MLLMOutput


@MODELS.register_module()
class QwenVLMLLM(MLLMBase):
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

    lora_target_regex = QWEN_VL_LLM_LINEAR_REGEX
    llm_prefixes = QWEN_VL_LLM_PREFIXES

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
        super().__init__(tokenizer=tokenizer, pretrained=pretrained, config=config, lora=lora,
                         freeze_vision_encoder=freeze_vision_encoder,
                         freeze_projector=freeze_projector, freeze_llm=freeze_llm,
                         gradient_checkpointing=gradient_checkpointing,
                         attn_implementation=attn_implementation, torch_dtype=torch_dtype,
                         save_trained_only=save_trained_only, init_cfg=init_cfg)
        self.image_size = image_size
        unit = self.patch_size * self.merge_size
        if image_size % unit:
            raise ValueError(f'image_size {image_size} must be a multiple of patch_size x '
                             f'spatial_merge_size = {unit}')

    # ------------------------------------------------------- backbone specifics
    @staticmethod
    def _native_class():
        from transformers import Qwen2_5_VLForConditionalGeneration
        return Qwen2_5_VLForConditionalGeneration

    @staticmethod
    def _config_from_dict(config: dict, vocab_size: Optional[int]):
        return qwen2_5_vl_config_from_dict(config, vocab_size)

    @staticmethod
    def _missing_hint(path: str) -> str:
        return (f'Put Qwen2.5-VL-3B-Instruct as published (config.json, *.safetensors, '
                f'tokenizer files) in {path}; nothing is downloaded.')

    def _set_image_token_ids(self, vocab: Dict[str, int]) -> None:
        missing = [t for t in QWEN_VL_IMAGE_TOKENS if t not in vocab]
        if missing:
            raise KeyError(f'Tokens {missing} are not in the tokenizer: a Qwen2.5-VL tokenizer '
                           f'has them; add them to another with build_role_tokenizer('
                           f'extra_tokens=QWEN_VL_IMAGE_TOKENS)')
        # get_rope_index finds each image by its <|vision_start|> followed by <|image_pad|>.
        self.model.config.image_token_id = vocab[IMAGE_PAD_TOKEN]
        self.model.config.vision_start_token_id = vocab[VISION_START_TOKEN]
        self.model.config.vision_end_token_id = vocab[VISION_END_TOKEN]

    def _vision_encoder_modules(self) -> List[nn.Module]:
        """Patch embedding and blocks: every child of the tower but the merger (the projector)."""
        return [m for n, m in self.vision_model.named_children() if n != 'merger']

    # ------------------------------------------------------------- properties
    @property
    def vision_model(self) -> nn.Module:
        """The vision tower (``Qwen2_5_VisionTransformerPretrainedModel``), merger included."""
        return self.model.model.visual

    @property
    def projector(self) -> nn.Module:
        """The 2x2 patch merger (RMSNorm + MLP into the LLM's width)."""
        return self.model.model.visual.merger

    @property
    def vision_start_token_id(self) -> int:
        return self.model.config.vision_start_token_id

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

    @property
    def image_shape(self):
        """(3, S, S): the square frames of ``image_size``."""
        return (3, self.image_size, self.image_size)

    # ----------------------------------------------------------------- inputs
    def _check_inputs(self, input_ids, attention_mask, pixel_values, labels=None) -> None:
        super()._check_inputs(input_ids, attention_mask, pixel_values, labels)
        num_images = 0 if pixel_values is None else pixel_values.shape[0]
        starts = input_ids[:, :-1] == self.vision_start_token_id
        num_starts = int((starts & (input_ids[:, 1:] == self.image_token_id)).sum())
        if num_starts != num_images:
            raise ValueError(
                f'input_ids hold {num_starts} {VISION_START_TOKEN}{IMAGE_PAD_TOKEN} image '
                f'starts for {num_images} images: M-RoPE finds each image by its start '
                f'(build the prompt with chat_format="qwen2_5_vl")')

    def image_inputs(self, pixel_values: Optional[torch.Tensor]) -> dict:
        """(N_img, 3, S, S) frames -> dict of the native model's ``pixel_values`` and
        ``image_grid_thw`` (empty without images).

        Without ``position_ids``, ``Qwen2_5_VLModel`` computes the M-RoPE positions
        itself (``get_rope_index`` over ``image_grid_thw`` and the padding).
        """
        if pixel_values is None:
            return {}
        vision = self.model.config.vision_config
        patches, grid_thw = patchify_images(pixel_values, vision.patch_size,
                                            vision.temporal_patch_size,
                                            vision.spatial_merge_size)
        return dict(pixel_values=patches, image_grid_thw=grid_thw)
