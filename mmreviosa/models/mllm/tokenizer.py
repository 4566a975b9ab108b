"""Tokenizers with the ReVIOSa role tokens, shared by the data pipeline and the model.

The role tokens are added here and nowhere else, so that the ids the data
pipeline writes into ``input_ids`` are the ids the model's embedding rows were
resized for.  Both sides build the tokenizer from the same config dict.
"""
from typing import Dict, Iterable, Optional, Union

from mmreviosa.registry import TOKENIZERS

#: Role tokens of ReVIOSa and the single-token baseline.
ACTOR_TOKEN = '[SEG_ACT]'
TARGET_TOKEN = '[SEG_TAR]'
SEG_TOKEN = '[SEG]'
ROLE_TOKENS = (ACTOR_TOKEN, TARGET_TOKEN, SEG_TOKEN)

#: Image tokens of InternVL-2.5 (remote-code and native layouts use the same strings).
IMG_START_TOKEN = '<img>'
IMG_END_TOKEN = '</img>'
IMG_CONTEXT_TOKEN = '<IMG_CONTEXT>'
IMAGE_TOKENS = (IMG_START_TOKEN, IMG_END_TOKEN, IMG_CONTEXT_TOKEN)

#: Label of the tokens that carry no language-model loss (prompt, padding).
IGNORE_INDEX = -100

#: Chat tokens of Qwen2.5 / the InternVL-2.5 template.
CHAT_TOKENS = ('<|im_start|>', '<|im_end|>', '<|endoftext|>')


def _load_pretrained(path: str, **kwargs):
    """A tokenizer from a local folder (never a hub download; no remote code)."""
    from transformers import AutoTokenizer
    from mmreviosa.utils import check_local_pretrained, internvl_hint
    check_local_pretrained(path, 'tokenizer', internvl_hint(path))
    return AutoTokenizer.from_pretrained(path, trust_remote_code=False, local_files_only=True,
                                         **kwargs)


def _tiny_corpus() -> Iterable[str]:
    """Text the in-process tokenizer is trained on: templates and InterShapes words."""
    from mmreviosa.datasets.transforms.conversation import corpus_sentences
    from mmreviosa.datasets.intershapes import VOCABULARY
    words = sorted(VOCABULARY)
    # Repeat the text so that BPE merges every word of it into one or two tokens: the
    # sequences (and a CPU step) stay short.
    for _ in range(20):
        yield ' '.join(words)
        yield from corpus_sentences()


@TOKENIZERS.register_module()
def build_tiny_tokenizer(vocab_size: int = 1024):
    """Train a small byte-level BPE tokenizer in-process (deterministic).

    Used by the tiny configs, which cannot download a tokenizer.  Byte-level
    BPE encodes any text (no unknown tokens); the InterShapes vocabulary and
    the chat template are in its training corpus, so their words are short.

    Returns:
        transformers.PreTrainedTokenizerFast: without the role tokens; pass it
        through :func:`build_role_tokenizer` (configs do this for you).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(CHAT_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False)
    tok.train_from_iterator(list(_tiny_corpus()), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token='<|im_end|>',
        pad_token='<|endoftext|>',
        additional_special_tokens=[])


@TOKENIZERS.register_module()
def build_role_tokenizer(tokenizer: Union[dict, str, object],
                         role_tokens: Iterable[str] = ROLE_TOKENS,
                         padding_side: str = 'right'):
    """Build a tokenizer and add the image and role tokens to it.

    Args:
        tokenizer: a local checkpoint folder, a config dict for
            :data:`TOKENIZERS` (e.g. ``dict(type='build_tiny_tokenizer')``) or
            a tokenizer object.
        role_tokens: the role tokens to add. All three are added by default so
            that the single-[SEG] baseline and ReVIOSa share token ids.
        padding_side: 'right' for training; generation pads on the left.

    Returns:
        The tokenizer with ``IMAGE_TOKENS`` (if missing) and ``role_tokens``
        added as special tokens.
    """
    if isinstance(tokenizer, str):
        tokenizer = _load_pretrained(tokenizer)
    elif isinstance(tokenizer, dict):
        tokenizer = TOKENIZERS.build(tokenizer)
    missing = [t for t in (*IMAGE_TOKENS, *role_tokens) if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_tokens(missing, special_tokens=True)
    tokenizer.padding_side = padding_side
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def get_special_token_ids(tokenizer, tokens: Iterable[str] = (*ROLE_TOKENS, *IMAGE_TOKENS)
                          ) -> Dict[str, int]:
    """Ids of ``tokens``; raises if one is unknown (not added to this tokenizer)."""
    vocab = tokenizer.get_vocab()
    missing = [t for t in tokens if t not in vocab]
    if missing:
        raise KeyError(f'Tokens {missing} are not in the tokenizer; build it with '
                       f'mmreviosa.models.mllm.build_role_tokenizer.')
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
