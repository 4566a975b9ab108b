"""The in-process tokenizer of the tiny configs.

Its vocabulary and token ids are recorded in every tiny checkpoint, so its
training corpus is frozen here: the template text as first released and the
InterShapes words (``TINY_CORPUS_WORDS``, a copy, so that a change of the
generator's vocabulary cannot renumber the tokens).
``tests/data/tokenizers/tiny_tokenizer_vocab.json`` holds the ids it must give.
"""
from typing import Iterable, List

from mmreviosa.registry import TOKENIZERS
from mmreviosa.text.chat import (ANSWER_ACTOR, ANSWER_ACTOR_TARGET, ANSWER_SINGLE,
                                 QUESTION_TEMPLATES)
from mmreviosa.text.tokens import CHAT_TOKENS

# Part of the corpus of the tiny tokenizer since its first release; kept verbatim so that
# the tiny tokenizer, and the token ids recorded in its checkpoints, stay the same.
_TINY_CORPUS_SYSTEM_TEXT = ('You are InternVL, a multimodal large language model jointly '
                            'developed by Shanghai AI Laboratory and SenseTime.')

#: The InterShapes vocabulary as the tiny tokenizer was first trained on it (sorted).
TINY_CORPUS_WORDS = (
    'after', 'approached', 'approaching', 'around', 'away', 'behind', 'being', 'big', 'blue',
    'by', 'chased', 'chasing', 'circle', 'circled', 'circling', 'closer', 'crashes', 'does',
    'down', 'followed', 'following', 'forward', 'from', 'getting', 'goes', 'going', 'green',
    'heading', 'hit', 'hitting', 'in', 'into', 'is', 'knocked', 'leading', 'leaves', 'left',
    'motionless', 'move', 'moves', 'moving', 'not', 'orbited', 'orbiting', 'place', 'purple',
    'pushed', 'pushes', 'pushing', 'red', 'right', 'runs', 'small', 'square', 'star',
    'staying', 'stays', 'still', 'strikes', 'struck', 'that', 'the', 'to', 'toward', 'trails',
    'triangle', 'up', 'video', 'which', 'yellow')


def corpus_sentences() -> List[str]:
    """Fixed text of the templates (used to train the tiny tokenizer)."""
    out = [_TINY_CORPUS_SYSTEM_TEXT, ANSWER_ACTOR_TARGET, ANSWER_ACTOR, ANSWER_SINGLE]
    out += [q.replace('{exp}', '') for q in QUESTION_TEMPLATES.values()]
    out += ['<|im_start|>system\n', '<|im_start|>user\n', '<|im_start|>assistant\n']
    return out


def _tiny_corpus() -> Iterable[str]:
    """Text the in-process tokenizer is trained on: templates and InterShapes words."""
    # Repeat the text so that BPE merges every word of it into one or two tokens: the
    # sequences (and a CPU step) stay short.
    for _ in range(20):
        yield ' '.join(TINY_CORPUS_WORDS)
        yield from corpus_sentences()


@TOKENIZERS.register_module()
def build_tiny_tokenizer(vocab_size: int = 1024):
    """Train a small byte-level BPE tokenizer in-process (deterministic).

    Used by the tiny configs, which cannot download a tokenizer.  Byte-level
    BPE encodes any text (no unknown tokens); the InterShapes vocabulary and
    the chat template are in its training corpus, so their words are short.

    Returns:
        transformers.PreTrainedTokenizerFast: without the role tokens; pass it
        through :func:`~mmreviosa.text.build_role_tokenizer` (configs do this for you).
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
