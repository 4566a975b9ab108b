"""Language backends: object descriptions, interaction decisions, expressions.

A backend answers three questions, each of which it may decline (None: the
caller logs a skip; nothing is guessed):

- :meth:`LanguageBackend.describe`: single-object expressions of an object
  given its cues and the cues of the other objects with the same noun;
- :meth:`LanguageBackend.decide_interaction`: whether a *spatial* relation is
  an interaction after all (action predicates always are), with the reason;
- :meth:`LanguageBackend.relation_expressions`: the forward expression (its
  referent is the subject) and the inverse one (its referent is the object).

:class:`TemplateBackend` is deterministic and offline (the default); the chat
backends in ``llm.py`` ask a language model.
"""
from typing import Dict, List, Optional, Sequence, Tuple

from mmreviosa.builders.vidor.cues import CUE_ORDER, distinguishing_cues
from mmreviosa.builders.vidor.vocabulary import noun, number_word, predicate_phrases

#: Categories whose colour is that of their clothes ("the adult in red").
PERSON_CATEGORIES = frozenset({'adult', 'child', 'baby'})

Cues = Dict[str, Optional[str]]


def motion_phrase(motion: str) -> str:
    """Words for a motion cue after the noun ("moving left", "staying still")."""
    return 'staying still' if motion == 'static' else motion


def noun_phrase(category: str, cues: Optional[Cues] = None, chosen: Sequence[str] = (),
                count: int = 1) -> str:
    """Definite noun phrase of an object (or of ``count`` objects of one category).

    Args:
        category: VidOR category.
        cues: the object's cues; only the names in ``chosen`` are used.
        chosen: cue names to say (see ``cues.CUE_ORDER``).
        count: number of objects referred to together ("the two adults").

    Returns:
        e.g. "the small red ball", "the adult in blue on the left",
        "the dog moving right", "the two adults".
    """
    cues = cues or {}
    before = []
    if 'size' in chosen:
        before.append(cues['size'])
    is_person = category in PERSON_CATEGORIES
    if 'colour' in chosen and not is_person:
        before.append(cues['colour'])
    words = ['the'] + ([number_word(count)] if count > 1 else []) + before + [noun(category, count)]
    if 'colour' in chosen and is_person:
        words.append(f'in {cues["colour"]}')
    if 'position' in chosen:
        words.append(cues['position'])
    if 'motion' in chosen:
        words.append(motion_phrase(cues['motion']))
    return ' '.join(words)


class LanguageBackend:
    """Interface of the language backends (see the module doc)."""

    #: Short name used on the command line and in the stage files.
    name = 'base'

    def __init__(self):
        self.counters = {'requests': 0, 'cache_hits': 0, 'retries': 0, 'skipped': 0}

    def params(self) -> dict:
        """Settings that change the output (stored in stage files for resuming)."""
        return {'backend': self.name}

    def describe(self, category: str, cues: Cues, peers: List[Cues], where: str
                 ) -> Optional[List[str]]:
        """Single-object referring expressions of one object.

        Args:
            category: its VidOR category.
            cues: its cues.
            peers: cues of the other objects of the video with the same category.
            where: "video V tid T", for log messages.

        Returns:
            Expressions (possibly empty: nothing tells it apart), or None when
            the backend could not answer (skipped, logged).
        """
        raise NotImplementedError

    def decide_interaction(self, predicate: str, subject: str, obj: str, where: str
                           ) -> Optional[Tuple[bool, str]]:
        """Whether a spatial relation is an interaction, and why (None: skipped)."""
        raise NotImplementedError

    def relation_expressions(self, predicate: str, subject: str, obj: str,
                             subject_category: str, object_category: str,
                             subject_count: int, object_count: int, where: str
                             ) -> Optional[Tuple[str, str]]:
        """``(forward, inverse)`` expressions of a relation (None: skipped).

        Args:
            predicate: VidOR predicate.
            subject, obj: noun phrases of the participants ("the adult").
            subject_category, object_category: their VidOR categories.
            subject_count, object_count: number of objects in each role.
            where: "video V relation ...", for log messages.
        """
        raise NotImplementedError


class TemplateBackend(LanguageBackend):
    """Deterministic English templates; offline, no model."""

    name = 'template'

    def describe(self, category: str, cues: Cues, peers: List[Cues], where: str
                 ) -> Optional[List[str]]:
        """An appearance/position expression and, if the object moves, a motion one.

        Each uses the fewest cues that tell the object from its peers; one
        that cannot be told apart gets no expression of that kind.
        """
        expressions = []
        static = distinguishing_cues(cues, peers, [c for c in CUE_ORDER if c != 'motion'])
        if static is not None:
            if not static and cues.get('colour'):
                static = ['colour']  # a lone object: say its colour rather than nothing
            expressions.append(noun_phrase(category, cues, static))
        if cues.get('motion'):
            others = [c for c in CUE_ORDER if c != 'motion']
            with_motion = distinguishing_cues(cues, peers, ['motion'] + others)
            if with_motion is not None:
                chosen = sorted(set(with_motion) | {'motion'}, key=CUE_ORDER.index)
                expressions.append(noun_phrase(category, cues, chosen))
        return list(dict.fromkeys(expressions))

    def decide_interaction(self, predicate: str, subject: str, obj: str, where: str
                           ) -> Optional[Tuple[bool, str]]:
        """Spatial predicates are never interactions for the templates."""
        return False, f'"{predicate}" is a spatial predicate'

    def relation_expressions(self, predicate: str, subject: str, obj: str,
                             subject_category: str, object_category: str,
                             subject_count: int, object_count: int, where: str
                             ) -> Optional[Tuple[str, str]]:
        """"<subject> <active phrase>" and "<object> <inverse phrase>"."""
        active, inverse = predicate_phrases(predicate, subject, obj, subject_count, object_count)
        return f'{subject} {active}', f'{obj} {inverse}'
