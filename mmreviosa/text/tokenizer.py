"""Tokenizers with the ReVIOSa role tokens, shared by the data pipeline and the model.

The role tokens are added here and nowhere else, so that the ids the data
pipeline writes into ``input_ids`` are the ids the model's embedding rows were
resized for.  Both sides build the tokenizer from the same config dict.
"""
from typing import Dict, Iterable, Optional, Union

from mmreviosa.registry import TOKENIZERS
from mmreviosa.text.tokens import IMAGE_TOKENS, ROLE_TOKENS, SPECIAL_TOKENS
from mmreviosa.utils import check_local_pretrained, internvl_hint


def _load_pretrained(path: str, **kwargs):
    """A tokenizer from a local folder (never a hub download; no remote code)."""
    from transformers import AutoTokenizer
    check_local_pretrained(path, 'tokenizer', internvl_hint(path))
    return AutoTokenizer.from_pretrained(path, trust_remote_code=False, local_files_only=True,
                                         **kwargs)


@TOKENIZERS.register_module()
def build_role_tokenizer(tokenizer: Union[dict, str, object],
                         role_tokens: Iterable[str] = ROLE_TOKENS,
                         padding_side: str = 'right',
                         extra_tokens: Iterable[str] = ()):
    """Build a tokenizer and add the image and role tokens to it.

    Args:
        tokenizer: a local checkpoint folder, a config dict for
            :data:`TOKENIZERS` (e.g. ``dict(type='build_tiny_tokenizer')``) or
            a tokenizer object.
        role_tokens: the role tokens to add. All three are added by default so
            that the single-[SEG] baseline and ReVIOSa share token ids.
        padding_side: 'right' for training; generation pads on the left.
        extra_tokens: further special tokens to add if missing, after the
            role tokens (e.g. ``QWEN_VL_IMAGE_TOKENS`` for a tiny Qwen2.5-VL,
            whose tokenizer is not Qwen's).

    Returns:
        The tokenizer with ``IMAGE_TOKENS`` (if missing) and ``role_tokens``
        added as special tokens.
    """
    if isinstance(tokenizer, str):
        tokenizer = _load_pretrained(tokenizer)
    elif isinstance(tokenizer, dict):
        tokenizer = TOKENIZERS.build(tokenizer)
    vocab = tokenizer.get_vocab()
    missing = [t for t in dict.fromkeys((*IMAGE_TOKENS, *role_tokens, *extra_tokens))
               if t not in vocab]
    if missing:
        tokenizer.add_tokens(missing, special_tokens=True)
    tokenizer.padding_side = padding_side
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def get_special_token_ids(tokenizer, tokens: Iterable[str] = SPECIAL_TOKENS) -> Dict[str, int]:
    """Ids of ``tokens``; raises if one is unknown (not added to this tokenizer)."""
    vocab = tokenizer.get_vocab()
    missing = [t for t in tokens if t not in vocab]
    if missing:
        raise KeyError(f'Tokens {missing} are not in the tokenizer; build it with '
                       f'mmreviosa.text.build_role_tokenizer.')
    return {t: vocab[t] for t in tokens}


def build_tokenizer_from_cfg(cfg: Optional[Union[dict, object]]):
    """Build a tokenizer from a config dict or return an already-built one."""
    if cfg is None or not isinstance(cfg, dict):
        return cfg
    cfg = dict(cfg)
    if cfg.get('type') in (None, 'build_role_tokenizer', build_role_tokenizer):
        cfg.pop('type', None)
        return build_role_tokenizer(**cfg)
    return TOKENIZERS.build(cfg)
