"""VidOR's object categories and predicates, and their English forms.

VidOR annotates 80 object categories and 50 predicates: 42 action (verb)
predicates and 8 spatial ones (see the VidOR documentation and the loader of
its authors, ``VidVRD-helper``).  Action predicates are read as interactions
with subject = actor and object = target; spatial predicates are not
interactions unless a language backend decides otherwise.

Every predicate has an active phrase (the subject is the referent) and an
inverse phrase (the object is the referent, passive where English allows it),
so a template can say both "the adult pushing the baby walker" and "the baby
walker being pushed by the adult".
"""
from typing import Dict, Tuple

#: The 80 object categories of VidOR, as spelt in its annotation files.
VIDOR_CATEGORIES: Tuple[str, ...] = (
    'adult', 'aircraft', 'antelope', 'baby', 'baby_seat', 'baby_walker', 'backpack',
    'ball/sports_ball', 'bat', 'bear', 'bench', 'bicycle', 'bird', 'bottle', 'bread',
    'bus/truck', 'cake', 'camel', 'camera', 'car', 'cat', 'cattle/cow', 'cellphone', 'chair',
    'chicken', 'child', 'crab', 'crocodile', 'cup', 'dish', 'dog', 'duck', 'electric_fan',
    'elephant', 'faucet', 'fish', 'frisbee', 'fruits', 'guitar', 'hamster/rat', 'handbag',
    'horse', 'kangaroo', 'laptop', 'leopard', 'lion', 'microwave', 'motorcycle', 'oven',
    'panda', 'penguin', 'piano', 'pig', 'rabbit', 'racket', 'refrigerator', 'scooter',
    'screen/monitor', 'sheep/goat', 'sink', 'skateboard', 'ski', 'snake', 'snowboard', 'sofa',
    'squirrel', 'stingray', 'stool', 'stop_sign', 'suitcase', 'surfboard', 'table', 'tiger',
    'toilet', 'toy', 'traffic_light', 'train', 'turtle', 'vegetables', 'watercraft')

#: The 42 action predicates: interactions, subject = actor, object = target.
ACTION_PREDICATES: Tuple[str, ...] = (
    'watch', 'bite', 'kiss', 'lick', 'smell', 'caress', 'knock', 'pat', 'point_to', 'squeeze',
    'hold', 'press', 'touch', 'hit', 'kick', 'lift', 'throw', 'wave', 'carry', 'grab', 'release',
    'pull', 'push', 'hug', 'lean_on', 'ride', 'chase', 'get_on', 'get_off', 'hold_hand_of',
    'shake_hand_with', 'wave_hand_to', 'speak_to', 'shout_at', 'feed', 'open', 'close', 'use',
    'cut', 'clean', 'drive', 'play(instrument)')

#: The 8 spatial predicates: not interactions by default.
SPATIAL_PREDICATES: Tuple[str, ...] = (
    'above', 'beneath', 'in_front_of', 'behind', 'next_to', 'inside', 'towards', 'away')

#: Predicates whose two roles read the same ("A shaking hands with B").
SYMMETRIC_PREDICATES = frozenset({'shake_hand_with', 'next_to'})

# Category -> (singular, plural).  Where VidOR merges two kinds under one
# label the noun names both, so that no expression says something false.
_NOUNS: Dict[str, Tuple[str, str]] = {
    'ball/sports_ball': ('ball', 'balls'),
    'bus/truck': ('bus or truck', 'buses or trucks'),
    'cattle/cow': ('cow', 'cows'),
    'hamster/rat': ('hamster or rat', 'hamsters or rats'),
    'screen/monitor': ('screen', 'screens'),
    'sheep/goat': ('sheep or goat', 'sheep or goats'),
    'fruits': ('fruit', 'fruits'),
    'vegetables': ('vegetable', 'vegetables'),
    'watercraft': ('boat', 'boats'),
    'aircraft': ('aircraft', 'aircraft'),
    'fish': ('fish', 'fish'),
    'bread': ('loaf of bread', 'loaves of bread'),
    'child': ('child', 'children'),
    'baby': ('baby', 'babies'),
    'bench': ('bench', 'benches'),
    'dish': ('dish', 'dishes'),
    'ski': ('ski', 'skis'),
}

# Predicate -> (active, inverse).  ``{o}``/``{s}``: the other participant's noun
# phrase; ``{be_s}``: "is"/"are" agreeing with the subject (for relative
# clauses, used where the passive is not idiomatic); ``{hand_a}``: "hand" or
# "hands" agreeing with the referent.
_PHRASES: Dict[str, Tuple[str, str]] = {
    'watch': ('watching {o}', 'being watched by {s}'),
    'bite': ('biting {o}', 'being bitten by {s}'),
    'kiss': ('kissing {o}', 'being kissed by {s}'),
    'lick': ('licking {o}', 'being licked by {s}'),
    'smell': ('smelling {o}', 'being smelled by {s}'),
    'caress': ('caressing {o}', 'being caressed by {s}'),
    'knock': ('knocking on {o}', 'being knocked on by {s}'),
    'pat': ('patting {o}', 'being patted by {s}'),
    'point_to': ('pointing at {o}', 'being pointed at by {s}'),
    'squeeze': ('squeezing {o}', 'being squeezed by {s}'),
    'hold': ('holding {o}', 'being held by {s}'),
    'press': ('pressing {o}', 'being pressed by {s}'),
    'touch': ('touching {o}', 'being touched by {s}'),
    'hit': ('hitting {o}', 'being hit by {s}'),
    'kick': ('kicking {o}', 'being kicked by {s}'),
    'lift': ('lifting {o}', 'being lifted by {s}'),
    'throw': ('throwing {o}', 'being thrown by {s}'),
    'wave': ('waving {o}', 'being waved by {s}'),
    'carry': ('carrying {o}', 'being carried by {s}'),
    'grab': ('grabbing {o}', 'being grabbed by {s}'),
    'release': ('releasing {o}', 'being released by {s}'),
    'pull': ('pulling {o}', 'being pulled by {s}'),
    'push': ('pushing {o}', 'being pushed by {s}'),
    'hug': ('hugging {o}', 'being hugged by {s}'),
    'lean_on': ('leaning on {o}', 'being leaned on by {s}'),
    'ride': ('riding {o}', 'being ridden by {s}'),
    'chase': ('chasing {o}', 'being chased by {s}'),
    'get_on': ('getting on {o}', 'that {s} {be_s} getting on'),
    'get_off': ('getting off {o}', 'that {s} {be_s} getting off'),
    'hold_hand_of': ('holding the hand of {o}', 'having their {hand_a} held by {s}'),
    'shake_hand_with': ('shaking hands with {o}', 'shaking hands with {s}'),
    'wave_hand_to': ('waving to {o}', 'being waved to by {s}'),
    'speak_to': ('speaking to {o}', 'being spoken to by {s}'),
    'shout_at': ('shouting at {o}', 'being shouted at by {s}'),
    'feed': ('feeding {o}', 'being fed by {s}'),
    'open': ('opening {o}', 'being opened by {s}'),
    'close': ('closing {o}', 'being closed by {s}'),
    'use': ('using {o}', 'being used by {s}'),
    'cut': ('cutting {o}', 'being cut by {s}'),
    'clean': ('cleaning {o}', 'being cleaned by {s}'),
    'drive': ('driving {o}', 'being driven by {s}'),
    'play(instrument)': ('playing {o}', 'being played by {s}'),
    'above': ('above {o}', 'below {s}'),
    'beneath': ('beneath {o}', 'above {s}'),
    'in_front_of': ('in front of {o}', 'behind {s}'),
    'behind': ('behind {o}', 'in front of {s}'),
    'next_to': ('next to {o}', 'next to {s}'),
    'inside': ('inside {o}', 'containing {s}'),
    'towards': ('moving towards {o}', 'being approached by {s}'),
    'away': ('moving away from {o}', 'that {s} {be_s} moving away from'),
}

_NUMBER_WORDS = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight',
                 'nine', 'ten')


def is_known_predicate(predicate: str) -> bool:
    """Whether ``predicate`` is one of VidOR's 50 predicates."""
    return predicate in _PHRASES


def is_action_predicate(predicate: str) -> bool:
    """Whether ``predicate`` is an action (interaction) predicate of VidOR."""
    return predicate in ACTION_PREDICATES


def noun(category: str, count: int = 1) -> str:
    """English noun for a VidOR category ("baby_walker" -> "baby walker").

    Args:
        category: a VidOR category; unknown ones are spelt out (``_``, ``/``).
        count: 1 for the singular, anything else for the plural.
    """
    if category in _NOUNS:
        singular, plural = _NOUNS[category]
    else:
        singular = category.replace('_', ' ').replace('/', ' or ')
        plural = _pluralize(singular)
    return singular if count == 1 else plural


def _pluralize(word_phrase: str) -> str:
    """Regular English plural of the last word (enough for VidOR's nouns)."""
    head, _, last = word_phrase.rpartition(' ')
    if last.endswith(('s', 'sh', 'ch', 'x', 'z')):
        last += 'es'
    elif last.endswith('y') and last[-2:-1] not in 'aeiou':
        last = last[:-1] + 'ies'
    else:
        last += 's'
    return f'{head} {last}' if head else last


def indefinite_article(phrase: str) -> str:
    """'a' or 'an' for ``phrase`` by its first sound ("an adult", "a baby")."""
    word = phrase.split(' ', 1)[0].lower()
    # Spelling-vs-sound exceptions among common modifiers and nouns.
    if word.startswith(('uni', 'use', 'eu', 'one')):
        return 'a'
    if word.startswith(('hour', 'honest')):
        return 'an'
    return 'an' if word[:1] in 'aeiou' else 'a'


def with_article(phrase: str) -> str:
    """``phrase`` with its indefinite article ("an electric fan")."""
    return f'{indefinite_article(phrase)} {phrase}'


def number_word(count: int) -> str:
    """"two" for 2; digits above ten."""
    return _NUMBER_WORDS[count] if 0 <= count < len(_NUMBER_WORDS) else str(count)


def predicate_phrases(predicate: str, subject: str, obj: str, subject_count: int = 1,
                      object_count: int = 1) -> Tuple[str, str]:
    """Active and inverse verb phrases of a relation.

    Args:
        predicate: a VidOR predicate.
        subject: noun phrase of the subject ("the adult").
        obj: noun phrase of the object ("the baby walker").
        subject_count: number of subjects (verb agreement in relative clauses).
        object_count: number of objects.

    Returns:
        ``(active, inverse)``: "pushing the baby walker" (whose referent is the
        subject) and "being pushed by the adult" (whose referent is the object).
    """
    if predicate not in _PHRASES:
        raise KeyError(f'Unknown VidOR predicate {predicate!r}; expected one of '
                       f'{sorted(_PHRASES)}')
    active, inverse = _PHRASES[predicate]
    fields = dict(o=obj, s=subject, be_s='is' if subject_count == 1 else 'are')
    return (active.format(hand_a='hand' if subject_count == 1 else 'hands', **fields),
            inverse.format(hand_a='hand' if object_count == 1 else 'hands', **fields))
