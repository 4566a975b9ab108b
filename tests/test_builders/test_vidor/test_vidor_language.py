"""English of the template backend, and the track cues it builds on."""
import pytest

from mmreviosa.builders.vidor.cues import (colour_name, distinguishing_cues, motion_cue,
                                           position_cue, size_cue)
from mmreviosa.builders.vidor.language import TemplateBackend, noun_phrase
from mmreviosa.builders.vidor.vocabulary import (ACTION_PREDICATES, SPATIAL_PREDICATES,
                                                 VIDOR_CATEGORIES, is_known_predicate, noun,
                                                 predicate_phrases, with_article)


def test_vocabulary_has_vidors_80_categories_and_50_predicates():
    assert len(set(VIDOR_CATEGORIES)) == 80
    assert len(set(ACTION_PREDICATES)) == 42 and len(set(SPATIAL_PREDICATES)) == 8
    assert not set(ACTION_PREDICATES) & set(SPATIAL_PREDICATES)
    assert all(is_known_predicate(p) for p in ACTION_PREDICATES + SPATIAL_PREDICATES)
    for predicate in ('push', 'pull', 'chase', 'hold', 'hug', 'kick', 'feed', 'ride', 'watch',
                      'lean_on'):
        assert predicate in ACTION_PREDICATES
    for predicate in ('in_front_of', 'next_to', 'above', 'beneath', 'behind', 'away',
                      'towards', 'inside'):
        assert predicate in SPATIAL_PREDICATES


@pytest.mark.parametrize('category,expected', [
    ('adult', 'an adult'), ('baby', 'a baby'), ('electric_fan', 'an electric fan'),
    ('aircraft', 'an aircraft'), ('oven', 'an oven'), ('baby_walker', 'a baby walker'),
    ('stop_sign', 'a stop sign'), ('ball/sports_ball', 'a ball')])
def test_indefinite_articles(category, expected):
    assert with_article(noun(category)) == expected


@pytest.mark.parametrize('category,plural', [
    ('baby', 'babies'), ('child', 'children'), ('fish', 'fish'), ('bench', 'benches'),
    ('sheep/goat', 'sheep or goats'), ('bus/truck', 'buses or trucks'), ('dog', 'dogs'),
    ('aircraft', 'aircraft'), ('traffic_light', 'traffic lights')])
def test_plurals(category, plural):
    assert noun(category, count=2) == plural


def test_every_category_has_a_readable_noun():
    for category in VIDOR_CATEGORIES:
        for count in (1, 2):
            word = noun(category, count)
            assert word and '_' not in word and '/' not in word, category


@pytest.mark.parametrize('predicate,active,inverse', [
    ('push', 'pushing the baby walker', 'being pushed by the adult'),
    ('bite', 'biting the baby walker', 'being bitten by the adult'),
    ('ride', 'riding the baby walker', 'being ridden by the adult'),
    ('throw', 'throwing the baby walker', 'being thrown by the adult'),
    ('lean_on', 'leaning on the baby walker', 'being leaned on by the adult'),
    ('point_to', 'pointing at the baby walker', 'being pointed at by the adult'),
    ('get_on', 'getting on the baby walker', 'that the adult is getting on'),
    ('hold_hand_of', 'holding the hand of the baby walker', 'having their hand held by the adult'),
    ('in_front_of', 'in front of the baby walker', 'behind the adult'),
])
def test_predicate_phrases_active_and_passive(predicate, active, inverse):
    assert predicate_phrases(predicate, 'the adult', 'the baby walker') == (active, inverse)


def test_every_predicate_has_both_phrases_naming_the_other_participant():
    for predicate in ACTION_PREDICATES + SPATIAL_PREDICATES:
        active, inverse = predicate_phrases(predicate, 'SUBJ', 'OBJ')
        assert 'OBJ' in active and 'SUBJ' not in active, predicate
        assert 'SUBJ' in inverse and 'OBJ' not in inverse, predicate


def test_plural_agreement_in_inverse_clauses():
    assert predicate_phrases('get_off', 'the two adults', 'the horse', subject_count=2)[1] == \
        'that the two adults are getting off'
    assert predicate_phrases('hold_hand_of', 'the adult', 'the two children',
                             object_count=2)[1] == 'having their hands held by the adult'


def test_unknown_predicate_is_a_clear_error():
    with pytest.raises(KeyError, match='fly_over'):
        predicate_phrases('fly_over', 'the adult', 'the dog')


def test_template_relation_expressions_swap_roles():
    forward, inverse = TemplateBackend().relation_expressions(
        'push', 'the adult', 'the baby walker', 'adult', 'baby_walker', 1, 1, 'test')
    assert forward == 'the adult pushing the baby walker'
    assert inverse == 'the baby walker being pushed by the adult'


def test_noun_phrases_with_cues():
    cues = {'colour': 'red', 'size': 'small', 'position': 'on the left', 'motion': 'static'}
    assert noun_phrase('ball/sports_ball', cues, ['colour', 'size']) == 'the small red ball'
    assert noun_phrase('adult', cues, ['colour', 'position']) == 'the adult in red on the left'
    assert noun_phrase('dog', cues, ['motion']) == 'the dog staying still'
    assert noun_phrase('adult', count=2) == 'the two adults'


def test_template_describe_uses_the_fewest_telling_cues():
    backend = TemplateBackend()
    left = {'colour': 'red', 'size': None, 'position': 'on the left', 'motion': 'moving right'}
    right = {'colour': 'red', 'size': None, 'position': 'on the right', 'motion': 'moving right'}
    # Same colour and motion: only the position tells them apart, and the motion
    # expression needs it too.
    assert backend.describe('dog', left, [right], 'test') == [
        'the dog on the left', 'the dog on the left moving right']
    # A lone object: its colour, and its motion.
    assert backend.describe('dog', left, [], 'test') == ['the red dog', 'the dog moving right']
    # Indistinguishable twins get nothing.
    assert backend.describe('dog', left, [dict(left)], 'test') == []


def test_distinguishing_cues():
    a = {'colour': 'red', 'size': 'big', 'position': None, 'motion': None}
    b = {'colour': 'red', 'size': 'small', 'position': None, 'motion': None}
    assert distinguishing_cues(a, []) == []
    assert distinguishing_cues(a, [b]) == ['size']
    assert distinguishing_cues(a, [dict(a)]) is None


@pytest.mark.parametrize('rgb,name', [
    ((220, 30, 30), 'red'), ((30, 60, 220), 'blue'), ((30, 180, 50), 'green'),
    ((230, 220, 40), 'yellow'), ((245, 245, 245), 'white'), ((10, 10, 10), 'black'),
    ((128, 128, 128), 'grey'), ((240, 140, 20), 'orange'), ((120, 70, 20), 'brown')])
def test_colour_names(rgb, name):
    assert colour_name(rgb) == name


def test_motion_size_position_cues():
    width, height = 200, 100
    # The centre moves 40 px right over the track (0.2 of the width).
    moving = [(10 + 5 * i, 10, 30 + 5 * i, 30) for i in range(9)]
    assert motion_cue(moving, width, height) == 'moving right'
    assert motion_cue(moving[::-1], width, height) == 'moving left'
    rising = [(50, 80 - 5 * i, 60, 90 - 5 * i) for i in range(9)]
    assert motion_cue(rising, width, height) == 'moving up'
    assert motion_cue([(5, 5, 20, 20)] * 4 + [None], width, height) == 'static'
    assert motion_cue([(5, 5, 20, 20)], width, height) is None
    # Area fractions: 100*50/20000 = 0.25 (big), 10*10/20000 = 0.005 (small).
    assert size_cue([(0, 0, 100, 50)], width, height) == 'big'
    assert size_cue([(0, 0, 10, 10)], width, height) == 'small'
    assert size_cue([(0, 0, 40, 40)], width, height) is None
    assert position_cue([(0, 0, 20, 10)], width) == 'on the left'
    assert position_cue([(180, 0, 200, 10)], width) == 'on the right'
    assert position_cue([(90, 0, 110, 10)], width) == 'in the middle'
