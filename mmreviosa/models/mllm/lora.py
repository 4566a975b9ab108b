"""Adapters on the language model of a native InternVL: LoRA and new-token rows.

LoRA goes on the linear layers of the language model only. The vision tower
of InternVL has ``q_proj``/``k_proj``/``v_proj`` too, so a plain list of
module names would also adapt it; a regex over the full module name keeps
LoRA out of it (:data:`LLM_LINEAR_REGEX`), and :func:`apply_adapters` checks
the result whatever ``target_modules`` says.

The rows of ``embed_tokens`` and ``lm_head`` that belong to tokens added for
ReVIOSa (the role tokens) must learn while the rest of the language model is
frozen. peft's trainable tokens keep a small ``(num_new, D)`` parameter per
layer instead of unfreezing the whole matrix: the optimizer state stays
small and weight decay cannot touch the frozen rows.
"""
import copy
from typing import List, Optional, Sequence, Union

from torch import nn

#: Full-name regex of the language model's linear layers (attention and MLP).
LLM_LINEAR_REGEX = (r'model\.language_model\.layers\.\d+\.'
                    r'(self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)')
#: Module names that hold the rows of the new tokens.
TOKEN_ROW_MODULES = ('embed_tokens', 'lm_head')
#: Name prefix of the language model (decoder and head) in the native model.
LLM_PREFIXES = ('model.language_model.', 'lm_head')


def build_lora_config(lora: Union[dict, object],
                      trainable_token_ids: Sequence[int] = (),
                      default_target_modules: str = LLM_LINEAR_REGEX):
    """Build a ``peft.LoraConfig`` restricted to the language model.

    Args:
        lora: a ``peft.LoraConfig`` or an XTuner-style dict
            ``dict(type=peft.LoraConfig, r=128, lora_alpha=256, ...)``
            (``type`` may be omitted or the string ``'LoraConfig'``).
            ``target_modules`` defaults to ``default_target_modules``;
            ``task_type`` is ignored (the wrapper computes its own loss).
        trainable_token_ids: ids whose rows of ``embed_tokens`` and
            ``lm_head`` are trained (empty: none).
        default_target_modules: full-name regex of the language model's
            linear layers in the model's layout (:data:`LLM_LINEAR_REGEX`
            for the native InternVL).

    Returns:
        peft.LoraConfig
    """
    from peft import LoraConfig
    if isinstance(lora, LoraConfig):
        lora_config = copy.deepcopy(lora)
    elif isinstance(lora, dict):
        kwargs = dict(lora)
        config_type = kwargs.pop('type', LoraConfig)
        if config_type not in (LoraConfig, 'LoraConfig', 'peft.LoraConfig'):
            raise TypeError(f'lora.type must be peft.LoraConfig, got {config_type!r}')
        kwargs.setdefault('target_modules', default_target_modules)
        lora_config = LoraConfig(**kwargs)
    else:
        raise TypeError(f'lora must be a dict or a peft.LoraConfig, got {type(lora)}')
    lora_config.task_type = None
    if lora_config.target_modules is None:
        lora_config.target_modules = default_target_modules
    if trainable_token_ids:
        ids = sorted(int(i) for i in trainable_token_ids)
        lora_config.trainable_token_indices = {name: ids for name in TOKEN_ROW_MODULES}
    return lora_config


def apply_adapters(model: nn.Module, lora: Optional[Union[dict, object]],
                   trainable_token_ids: Sequence[int] = (),
                   default_target_modules: str = LLM_LINEAR_REGEX,
                   llm_prefixes: Sequence[str] = LLM_PREFIXES):
    """Put LoRA and/or trainable token rows on a native MLLM (InternVL by default) in place.

    The module tree of ``model`` keeps its names (adapters are injected into
    it); every pre-existing parameter is frozen by peft, so set the trainable
    parts again afterwards.

    Args:
        model (InternVLForConditionalGeneration): the native model. Its
            ``config.tie_word_embeddings`` must say whether ``lm_head`` shares
            the embedding matrix (peft reads it to tie the token rows).
        lora: see :func:`build_lora_config`; None for no LoRA.
        trainable_token_ids: ids of the token rows to train.
        default_target_modules: LoRA's ``target_modules`` when ``lora`` names
            none (see :func:`build_lora_config`).
        llm_prefixes: name prefixes of the language model (decoder and head)
            in ``model``; an adapter elsewhere is an error.

    Returns:
        peft.PeftModel or None: the peft wrapper (for ``merge_and_unload``),
        None when there is nothing to add.
    """
    from peft import TrainableTokensConfig, get_peft_model
    if lora is None and not trainable_token_ids:
        return None
    if lora is not None:
        peft_config = build_lora_config(lora, trainable_token_ids, default_target_modules)
    else:
        peft_config = TrainableTokensConfig(
            target_modules=list(TOKEN_ROW_MODULES),
            token_indices=sorted(int(i) for i in trainable_token_ids))
    peft_model = get_peft_model(model, peft_config)
    check_adapters_in_language_model(model, llm_prefixes, default_target_modules)
    return peft_model


def adapter_module_names(model: nn.Module) -> List[str]:
    """Names of the modules of ``model`` that peft has put an adapter in."""
    from peft.tuners.tuners_utils import BaseTunerLayer
    from peft.utils.other import AuxiliaryTrainingWrapper
    return [name for name, module in model.named_modules()
            if isinstance(module, (BaseTunerLayer, AuxiliaryTrainingWrapper))]


def check_adapters_in_language_model(model: nn.Module,
                                     llm_prefixes: Sequence[str] = LLM_PREFIXES,
                                     example_regex: str = LLM_LINEAR_REGEX) -> None:
    """Raise if an adapter sits outside the language model (vision tower, projector)."""
    outside = [name for name in adapter_module_names(model)
               if not name.startswith(tuple(llm_prefixes))]
    if outside:
        raise ValueError(
            f'LoRA target_modules matched modules outside the language model: '
            f'{outside[:5]}{" ..." if len(outside) > 5 else ""}. The vision '
            f'tower has projections too: give target_modules as a regex over '
            f'the full name, e.g. {example_regex!r}.')
