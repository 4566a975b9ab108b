"""Shared logic of the language backends that ask a chat model (see ``backends.py``
for the OpenAI-compatible HTTP client and the local transformers causal LM).

Each question is one chat request whose last user message ends with the
question as JSON; the reply must be exactly one JSON object with the keys and
types of the task's schema (a single Markdown code fence around it is
tolerated).  A reply that fails the schema or a role check (the forward
expression must name the subject before the object, the inverse the object
first) counts as malformed.  Transient failures (timeouts, connection errors,
HTTP 429/5xx, malformed replies) are retried with exponential backoff; after
the last try the question is skipped with a warning naming the video and tid,
never answered with a guess.  Valid replies are cached on disk by a hash of
the request, so a rerun asks nothing twice.
"""
import hashlib
import json
import logging
import os
import os.path as osp
import re
import time
from typing import Callable, Dict, List, Optional, Tuple

from mmreviosa.builders.vidor.language import Cues, LanguageBackend, TemplateBackend
from mmreviosa.builders.vidor.vocabulary import noun

logger = logging.getLogger(__name__)

#: Bumped when the prompts change, so cached replies are not reused.
PROMPT_VERSION = 1

SYSTEM_PROMPT = (
    'You write short English referring expressions for a video object segmentation '
    'dataset. Each expression is a noun phrase starting with "the" that names the '
    'referred object first. Use only the facts given. Reply with one JSON object and '
    'nothing else.')

_INSTRUCTIONS = {
    'describe': ('Write one referring expression for the object, using its cues so that it '
                 'cannot be confused with the other objects of the same kind. '
                 'Reply as {"expression": "..."}.'),
    'interaction': ('The relation is spatial in the annotation. Decide whether the subject '
                    'nevertheless acts on the object (an interaction with the subject as '
                    'actor and the object as target) or is only placed relative to it. '
                    'Reply as {"is_interaction": true or false, "reason": "..."}.'),
    'expressions': ('Write the forward expression, whose referent is the subject acting on '
                    'the object (like example_forward), and the inverse expression, whose '
                    'referent is the object, in the passive voice where English allows it '
                    '(like example_inverse). Keep both noun phrases. '
                    'Reply as {"forward": "...", "inverse": "..."}.'),
}

_SCHEMAS: Dict[str, Dict[str, type]] = {
    'describe': {'expression': str},
    'interaction': {'is_interaction': bool, 'reason': str},
    'expressions': {'forward': str, 'inverse': str},
}

MAX_TEXT_CHARS = 200

# Words that may name a person category in free text.
_PERSON_WORDS = {
    'adult': {'adult', 'man', 'woman', 'person', 'men', 'women', 'people', 'lady', 'guy'},
    'child': {'child', 'children', 'kid', 'kids', 'boy', 'girl', 'boys', 'girls'},
    'baby': {'baby', 'babies', 'infant', 'infants', 'toddler', 'toddlers'},
}


class TransientError(RuntimeError):
    """A failure worth retrying (timeout, connection, HTTP 429/5xx)."""


class MalformedReply(ValueError):
    """A reply that is not one JSON object of the task's schema."""


class RefusedRequest(RuntimeError):
    """A request the server rejects as such (HTTP 4xx): retrying cannot help."""


def build_messages(task: str, payload: dict) -> List[Dict[str, str]]:
    """Chat messages of one question (system prompt + instruction + JSON input)."""
    question = dict(task=task, **payload)
    return [{'role': 'system', 'content': SYSTEM_PROMPT},
            {'role': 'user', 'content': f'{_INSTRUCTIONS[task]}\nInput: '
                                        f'{json.dumps(question, sort_keys=True)}'}]


def parse_reply(text: str, task: str) -> dict:
    """Parse a reply strictly against the task's schema.

    Raises:
        MalformedReply: not JSON, not an object, missing / extra keys, wrong
            types, empty or over-long or multi-line strings.
    """
    body = text.strip()
    fence = re.fullmatch(r'```(?:json)?\s*(.*?)\s*```', body, flags=re.S)
    if fence:
        body = fence.group(1)
    try:
        reply = json.loads(body)
    except json.JSONDecodeError as err:
        raise MalformedReply(f'not JSON ({err.msg}): {text!r:.120}') from err
    schema = _SCHEMAS[task]
    if not isinstance(reply, dict) or set(reply) != set(schema):
        raise MalformedReply(f'expected an object with keys {sorted(schema)}, got {reply!r:.120}')
    for key, kind in schema.items():
        value = reply[key]
        if type(value) is not kind:
            raise MalformedReply(f'"{key}" must be {kind.__name__}, got {value!r:.60}')
        if kind is str:
            value = value.strip()
            if not value or len(value) > MAX_TEXT_CHARS or '\n' in value:
                raise MalformedReply(f'"{key}" must be one non-empty line of at most '
                                     f'{MAX_TEXT_CHARS} characters, got {value!r:.60}')
            reply[key] = value
    return reply


def _category_words(category: str) -> set:
    words = set(_PERSON_WORDS.get(category, ()))
    for form in (noun(category, 1), noun(category, 2)):
        for alternative in form.split(' or '):
            words.add(alternative.split()[-1])
    return words


def mention_positions(text: str, category: str) -> List[int]:
    """Word positions in ``text`` that name ``category`` (head nouns, person words)."""
    words = re.findall(r"[a-z]+", text.lower())
    keys = _category_words(category)
    return [i for i, word in enumerate(words) if word in keys]


def check_roles(first_text: str, first_category: str, second_category: str) -> None:
    """Raise MalformedReply unless ``first_text`` names the first category first."""
    first = mention_positions(first_text, first_category)
    second = mention_positions(first_text, second_category)
    if first_category == second_category:
        if len(first) < 2:
            raise MalformedReply(f'{first_text!r} should name two {noun(first_category, 2)}')
        return
    if not first or not second or first[0] > second[0]:
        raise MalformedReply(f'{first_text!r} should name the {noun(first_category)} before '
                             f'the {noun(second_category)}')


class ChatBackend(LanguageBackend):
    """Shared logic of the chat backends: prompts, cache, retries, parsing.

    Args:
        cache_dir: folder of cached replies (``<sha256>.json``); None: no cache.
        max_retries: tries after the first one.
        backoff: seconds before the first retry; doubled after each one.
        max_backoff: cap of one wait, in seconds.
    """

    name = 'chat'
    #: Whether the same request always gets the same reply (then a malformed
    #: reply is not retried).
    deterministic = False

    def __init__(self, cache_dir: Optional[str] = None, max_retries: int = 3,
                 backoff: float = 1.0, max_backoff: float = 30.0):
        super().__init__()
        self.cache_dir = cache_dir
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._template = TemplateBackend()

    def model_id(self) -> str:
        """What answers (model name or path), for the cache key and stage files."""
        raise NotImplementedError

    def complete(self, messages: List[Dict[str, str]]) -> str:
        """Send the chat and return the reply text; raise TransientError to retry."""
        raise NotImplementedError

    def params(self) -> dict:
        return {'backend': self.name, 'model': self.model_id(), 'prompt_version': PROMPT_VERSION}

    # ------------------------------------------------------------------ core
    def ask(self, task: str, payload: dict, where: str,
            check: Callable[[dict], None] = lambda reply: None) -> Optional[dict]:
        """One question with cache, retries and strict parsing; None if skipped."""
        messages = build_messages(task, payload)
        key = hashlib.sha256(json.dumps(
            [self.params(), messages], sort_keys=True).encode('utf-8')).hexdigest()
        cached = self._read_cache(key, task, check)
        if cached is not None:
            self.counters['cache_hits'] += 1
            return cached
        reason = 'no reply'
        for attempt in range(self.max_retries + 1):
            if attempt:
                self.counters['retries'] += 1
                time.sleep(min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))
            self.counters['requests'] += 1
            try:
                text = self.complete(messages)
                reply = parse_reply(text, task)
                check(reply)
            except TransientError as err:
                reason = f'request failed: {err}'
            except MalformedReply as err:
                reason = f'malformed reply: {err}'
                if self.deterministic:
                    break
            except RefusedRequest as err:
                reason = str(err)
                break
            else:
                self._write_cache(key, messages, text)
                return reply
            logger.info('%s: %s try %d: %s', where, task, attempt + 1, reason)
        self.counters['skipped'] += 1
        logger.warning('%s: %s skipped after %d tries (%s)', where, task, attempt + 1, reason)
        return None

    def _read_cache(self, key: str, task: str, check) -> Optional[dict]:
        if not self.cache_dir:
            return None
        path = osp.join(self.cache_dir, key + '.json')
        if not osp.isfile(path):
            return None
        try:
            with open(path, encoding='utf-8') as file:
                reply = parse_reply(json.load(file)['reply'], task)
            check(reply)
            return reply
        except (OSError, ValueError, KeyError, TypeError):
            return None  # a damaged entry is asked again and overwritten

    def _write_cache(self, key: str, messages: list, text: str) -> None:
        if not self.cache_dir:
            return
        os.makedirs(self.cache_dir, exist_ok=True)
        path = osp.join(self.cache_dir, key + '.json')
        temp = f'{path}.{os.getpid()}.tmp'
        with open(temp, 'w', encoding='utf-8') as file:
            json.dump({'messages': messages, 'reply': text}, file)
        os.replace(temp, path)

    # ------------------------------------------------------------------ tasks
    def describe(self, category: str, cues: Cues, peers: List[Cues], where: str
                 ) -> Optional[List[str]]:
        payload = {'object': noun(category), 'cues': {k: v for k, v in cues.items() if v},
                   'other_objects_of_same_kind': [{k: v for k, v in p.items() if v}
                                                  for p in peers]}

        def names_object(reply: dict) -> None:
            if not mention_positions(reply['expression'], category):
                raise MalformedReply(f'{reply["expression"]!r} does not name the '
                                     f'{noun(category)}')

        reply = self.ask('describe', payload, where, names_object)
        return None if reply is None else [reply['expression']]

    def decide_interaction(self, predicate: str, subject: str, obj: str, where: str
                           ) -> Optional[Tuple[bool, str]]:
        payload = {'subject': subject, 'predicate': predicate.replace('_', ' '), 'object': obj}
        reply = self.ask('interaction', payload, where)
        return None if reply is None else (reply['is_interaction'], reply['reason'])

    def relation_expressions(self, predicate: str, subject: str, obj: str,
                             subject_category: str, object_category: str,
                             subject_count: int, object_count: int, where: str
                             ) -> Optional[Tuple[str, str]]:
        forward, inverse = self._template.relation_expressions(
            predicate, subject, obj, subject_category, object_category, subject_count,
            object_count, where)
        payload = {'subject': subject, 'object': obj, 'predicate': predicate.replace('_', ' '),
                   'example_forward': forward, 'example_inverse': inverse}

        def roles_kept(reply: dict) -> None:
            check_roles(reply['forward'], subject_category, object_category)
            check_roles(reply['inverse'], object_category, subject_category)

        reply = self.ask('expressions', payload, where, roles_kept)
        return None if reply is None else (reply['forward'], reply['inverse'])
