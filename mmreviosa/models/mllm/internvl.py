"""The MLLM of ReVIOSa: transformers' native InternVL with role tokens and LoRA.

Two ways to build the network:

* ``pretrained='path/to/InternVL2_5-1B-hf'``: a local folder in the native
  transformers layout (convert a published checkpoint with
  ``tools/model_converters/internvl2_5_to_hf.py``);
* ``config=dict(...)``: random weights, either a small model
  (``dict(vision=dict(...), text=dict(...), downsample_ratio=0.5)``) or the
  real architecture (``dict(preset='internvl2_5_1b')`` / ``'internvl2_5_4b'`` /
  ``'internvl3_1b'`` / ``'internvl3_2b'``), e.g. on the meta device to count
  parameters without reading weights.

InternVL3 1B/2B (``OpenGVLab/InternVL3-*-hf``) are already in the native
layout: point ``pretrained`` at the downloaded folder, no conversion needed.
"""
import os.path as osp
from typing import Dict, Optional

from torch import nn

from mmreviosa.models.mllm.base import MLLMBase, MLLMOutput
from mmreviosa.models.mllm.internvl_config import config_from_dict
from mmreviosa.registry import MODELS
from mmreviosa.text import IMG_CONTEXT_TOKEN
from mmreviosa.utils import internvl_hint

#: Output of :meth:`InternVLMLLM.forward`.
InternVLMLLMOutput = MLLMOutput


@MODELS.register_module()
class InternVLMLLM(MLLMBase):
    """Native InternVL with the ReVIOSa role tokens, LoRA on the LLM and freezing.

    Args:
        tokenizer (dict | None): the tokenizer config the data pipeline gets
            (built with ``build_tokenizer_from_cfg``; it holds the role tokens).
            None only to count parameters of a ``config`` model.
        pretrained (str, optional): local folder in the native transformers layout.
        config (dict, optional): random-weight model, see :func:`config_from_dict`.
            Exactly one of ``pretrained`` / ``config``.
        lora (dict, optional): ``dict(type=peft.LoraConfig, r=128, lora_alpha=256,
            lora_dropout=0.05)``; ``target_modules`` defaults to a regex over the
            language model's linear layers.
        freeze_vision_encoder (bool): freeze the vision tower.
        freeze_projector (bool): freeze the pixel-shuffle MLP. Default False:
            Sa2VA (XTuner's InternVL) trains ``mlp1`` alongside the LoRA.
        freeze_llm (bool): freeze the language model (decoder and lm_head); the
            rows of the role tokens (and of any row added by the resize) stay
            trainable through peft's trainable tokens.
        gradient_checkpointing (bool): recompute activations in backward, with
            ``use_reentrant=False`` (the reentrant variant drops gradients that
            flow through captured attention rows).
        attn_implementation (str): attention of the language model: 'sdpa',
            'eager' or any name registered with ``AttentionInterface`` (e.g. the
            role-attention capture). The vision tower always uses 'sdpa'.
        torch_dtype (str | torch.dtype): 'float32', 'bfloat16' or 'float16'.
        save_trained_only (bool, optional): make ``state_dict()`` hold only the
            trained parameters and the token-id table. Default: True with
            ``pretrained`` (the rest comes from the folder), False for random weights.
        init_cfg (dict, optional): unused; weights come from ``pretrained``.
    """

    @staticmethod
    def _native_class():
        from transformers import InternVLForConditionalGeneration
        return InternVLForConditionalGeneration

    @staticmethod
    def _config_from_dict(config: dict, vocab_size: Optional[int]):
        return config_from_dict(config, vocab_size)

    @staticmethod
    def _missing_hint(path: str) -> str:
        """A missing folder: InternVL3 is published natively, InternVL-2.5 is converted."""
        name = osp.basename(osp.normpath(path))
        if name.lower().startswith('internvl3'):
            return (f'download OpenGVLab/{name} (published in the native transformers layout, no '
                    f'conversion) into {path}')
        return internvl_hint(path)

    def _check_native_model(self, model: nn.Module) -> None:
        if model.config.vision_feature_layer != -1:
            raise NotImplementedError(
                f'vision_feature_layer={model.config.vision_feature_layer}: transformers '
                f'InternVL only supports -1 (InternVL-2.5 uses select_layer=-1)')

    def _set_image_token_ids(self, vocab: Dict[str, int]) -> None:
        self.model.config.image_token_id = vocab[IMG_CONTEXT_TOKEN]
        self.model.config.image_seq_length = self.num_image_tokens

    @property
    def vision_model(self) -> nn.Module:
        """The vision tower (``InternVLVisionModel``)."""
        return self.model.model.vision_tower

    @property
    def projector(self) -> nn.Module:
        """The pixel-shuffle MLP (``mlp1`` in the remote-code layout)."""
        return self.model.model.multi_modal_projector

    @property
    def num_image_tokens(self) -> int:
        """Visual tokens per image after pixel shuffle: (S / patch)^2 * ratio^2."""
        vision = self.model.config.vision_config
        grid = vision.image_size[0] // vision.patch_size[0]
        return round(grid * grid * self.model.config.downsample_ratio ** 2)

    @property
    def image_shape(self):
        """(3, H, W): the vision tower's input size."""
        return (3, *self.model.config.vision_config.image_size)
