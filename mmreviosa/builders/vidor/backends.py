"""Chat backends: an OpenAI-compatible HTTP server and a local transformers causal LM.

Both share the prompts, cache, retries and strict parsing of
:class:`~mmreviosa.builders.vidor.llm.ChatBackend`; they only differ in how a
chat is sent.  :func:`build_backend` builds any backend by name.
"""
import ipaddress
import json
import logging
import os
import os.path as osp
import urllib.parse
import urllib.request
from typing import Any, Dict, List, Optional, Tuple

from mmreviosa.builders.vidor.language import LanguageBackend, TemplateBackend
from mmreviosa.builders.vidor.llm import ChatBackend, RefusedRequest, TransientError
from mmreviosa.utils import check_local_pretrained

logger = logging.getLogger(__name__)

_DEFAULT_PORTS = {'http': 80, 'https': 443}


def url_origin(url: str) -> Tuple[str, str, Optional[int]]:
    """(scheme, host, port) of a URL, the default port filled in; credentials are sent to one
    origin only."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or '').lower(), parts.port or _DEFAULT_PORTS.get(scheme)


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host.strip('[]')).is_loopback
    except ValueError:
        return False


class _SameOriginAuthRedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follow redirects, but send ``Authorization`` to the original origin only.

    urllib copies every header, the API key included, into the redirected request,
    whatever host the server points to.
    """

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and url_origin(new.full_url) != url_origin(req.full_url) \
                and new.has_header('Authorization'):
            new.remove_header('Authorization')
            logger.warning('%s redirected to %s, another origin: the API key is not sent there',
                           req.full_url, new.full_url)
        return new


class OpenAIChatBackend(ChatBackend):
    """Any server speaking the OpenAI chat-completions protocol (stdlib HTTP).

    Args:
        model: model name sent in each request.
        base_url: API root including ``/v1`` (``POST {base_url}/chat/completions``).
        api_key: sent as a Bearer token when given, to ``base_url``'s origin only
            (never along a redirect to another scheme, host or port), and only over
            https unless the host is loopback (``localhost``, 127.0.0.1, ::1).
        timeout: seconds per request.
        temperature, max_tokens: sampling settings sent with each request.
        json_mode: also send ``response_format={"type": "json_object"}``
            (not every server supports it).
        **kwargs: :class:`ChatBackend` settings.
    """

    name = 'openai'

    def __init__(self, model: str, base_url: str = 'https://api.openai.com/v1',
                 api_key: Optional[str] = None, timeout: float = 60.0,
                 temperature: float = 0.0, max_tokens: int = 256, json_mode: bool = False,
                 **kwargs):
        super().__init__(**kwargs)
        self.model = model
        self.base_url = base_url.rstrip('/')
        scheme, host, _ = url_origin(self.base_url)
        if scheme not in ('http', 'https') or not host:
            raise ValueError(f'base_url must be an http(s) URL such as https://api.openai.com/v1, '
                             f'got {base_url!r}')
        if api_key and scheme == 'http' and not is_loopback_host(host):
            raise ValueError(f'Refusing to send the API key to {host} over plain HTTP '
                             f'({base_url}): anyone on the way could read it. Use https://, '
                             f'or a server on this machine (localhost).')
        self.api_key = api_key
        self._opener = urllib.request.build_opener(_SameOriginAuthRedirectHandler())
        self.timeout = timeout
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.json_mode = json_mode

    def model_id(self) -> str:
        return self.model

    def complete(self, messages: List[Dict[str, str]]) -> str:
        import socket
        import urllib.error
        body = {'model': self.model, 'messages': messages, 'temperature': self.temperature,
                'max_tokens': self.max_tokens}
        if self.json_mode:
            body['response_format'] = {'type': 'json_object'}
        headers = {'Content-Type': 'application/json'}
        if self.api_key:
            headers['Authorization'] = f'Bearer {self.api_key}'
        request = urllib.request.Request(f'{self.base_url}/chat/completions',
                                         data=json.dumps(body).encode('utf-8'),
                                         headers=headers, method='POST')
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                data = json.loads(response.read().decode('utf-8'))
        except urllib.error.HTTPError as err:
            if err.code in (408, 429) or err.code >= 500:
                raise TransientError(f'HTTP {err.code} from {self.base_url}') from err
            raise RefusedRequest(f'HTTP {err.code} from {self.base_url}: the request was '
                                 f'refused') from err
        except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError) as err:
            raise TransientError(f'{type(err).__name__} from {self.base_url}: {err}') from err
        except json.JSONDecodeError as err:
            raise TransientError(f'response of {self.base_url} is not JSON') from err
        try:
            return data['choices'][0]['message']['content']
        except (KeyError, IndexError, TypeError) as err:
            raise TransientError(f'response of {self.base_url} has no choices[0].message.'
                                 f'content: {data!r:.120}') from err


class HFCausalLMBackend(ChatBackend):
    """A local transformers causal LM (``AutoModelForCausalLM`` from a folder).

    Args:
        model_path: local model folder (must exist; nothing is downloaded).
        tokenizer_path: local tokenizer folder (default: ``model_path``).
        device: torch device string.
        max_new_tokens: generation length limit.
        temperature: 0 decodes greedily (then malformed replies are not retried).
        **kwargs: :class:`ChatBackend` settings.
    """

    name = 'hf'

    def __init__(self, model_path: str, tokenizer_path: Optional[str] = None,
                 device: str = 'cpu', max_new_tokens: int = 128, temperature: float = 0.0,
                 **kwargs):
        super().__init__(**kwargs)
        # Local folders only (checked before any work): a missing folder must not become a
        # hub download of that name; _load passes local_files_only=True.
        self.model_path = check_local_pretrained(model_path, 'hf backend model_path')
        self.tokenizer_path = check_local_pretrained(tokenizer_path or model_path,
                                                     'hf backend tokenizer_path')
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.deterministic = temperature <= 0
        self._model = None
        self._tokenizer = None

    def model_id(self) -> str:
        return osp.abspath(self.model_path)

    def _load(self):
        if self._model is None:
            from transformers import AutoModelForCausalLM, AutoTokenizer
            self._tokenizer = AutoTokenizer.from_pretrained(self.tokenizer_path,
                                                            local_files_only=True)
            self._model = AutoModelForCausalLM.from_pretrained(
                self.model_path, local_files_only=True).to(self.device)
            self._model.eval()
        return self._model, self._tokenizer

    def complete(self, messages: List[Dict[str, str]]) -> str:
        import torch
        model, tokenizer = self._load()
        if getattr(tokenizer, 'chat_template', None):
            prompt = tokenizer.apply_chat_template(messages, tokenize=False,
                                                   add_generation_prompt=True)
        else:
            prompt = ''.join(f'{m["role"]}: {m["content"]}\n' for m in messages) + 'assistant: '
        encoded = tokenizer(prompt, return_tensors='pt')
        # Only what a causal LM takes (some tokenizers add token_type_ids).
        inputs = {k: encoded[k].to(self.device) for k in ('input_ids', 'attention_mask')
                  if k in encoded}
        sampling = dict(do_sample=True, temperature=self.temperature) \
            if self.temperature > 0 else dict(do_sample=False)
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None \
            else tokenizer.eos_token_id
        with torch.inference_mode():
            output = model.generate(**inputs, max_new_tokens=self.max_new_tokens,
                                    pad_token_id=pad_id, **sampling)
        new_tokens = output[0, inputs['input_ids'].shape[1]:]
        return tokenizer.decode(new_tokens, skip_special_tokens=True)


_ENV_DEFAULTS = {'base_url': 'OPENAI_BASE_URL', 'api_key': 'OPENAI_API_KEY',
                 'model': 'OPENAI_MODEL'}


def load_llm_config(path: str) -> Dict[str, Any]:
    """Read the backend settings file of ``--llm-config``: plain JSON or YAML only.

    YAML goes through ``yaml.safe_load``, so tags such as
    ``!!python/object/apply:os.system`` are refused instead of run; pickle and
    other formats are not read at all.

    Args:
        path: a ``.json``, ``.yaml`` or ``.yml`` file holding a mapping.

    Returns:
        dict: the settings.

    Raises:
        ValueError: another extension, content that is not plain JSON / YAML, or
            not a mapping; the message names the file.
        OSError: the file cannot be read.
    """
    suffix = osp.splitext(path)[1].lower()
    if suffix not in ('.json', '.yaml', '.yml'):
        raise ValueError(f'{path}: --llm-config must be a .json, .yaml or .yml file (plain '
                         f'data), got {suffix or "no extension"!r}')
    with open(path, 'rb') as f:
        raw = f.read()
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError:
        raise ValueError(f'{path}: not a UTF-8 text file; --llm-config is read as plain JSON '
                         f'or YAML') from None
    if suffix == '.json':
        try:
            config = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f'{path}: not valid JSON ({err})') from None
    else:
        import yaml
        try:
            config = yaml.safe_load(text)
        except (yaml.YAMLError, ValueError) as err:  # python/* tags end here, unrun
            raise ValueError(f'{path}: not plain YAML ({err})') from None
    if not isinstance(config, dict):
        raise ValueError(f'{path}: expected a mapping of backend settings, got '
                         f'{type(config).__name__}')
    return config


def build_backend(name: str, config: Optional[Dict[str, Any]] = None,
                  cache_dir: Optional[str] = None) -> LanguageBackend:
    """Build a language backend by name.

    Args:
        name: 'template', 'openai' or 'hf'.
        config: backend settings (see the classes); for 'openai', ``base_url``,
            ``api_key`` and ``model`` default to the environment variables
            OPENAI_BASE_URL, OPENAI_API_KEY and OPENAI_MODEL.
        cache_dir: reply cache folder of the chat backends (config may override).
    """
    config = dict(config or {})
    if name == 'template':
        return TemplateBackend()
    config.setdefault('cache_dir', cache_dir)
    if name == 'openai':
        for key, env in _ENV_DEFAULTS.items():
            if key not in config and os.environ.get(env):
                config[key] = os.environ[env]
        if not config.get('model'):
            raise ValueError('The openai backend needs a model name: set "model" in '
                             '--llm-config or the OPENAI_MODEL environment variable')
        cls = OpenAIChatBackend
    elif name == 'hf':
        if not config.get('model_path'):
            raise ValueError('The hf backend needs "model_path" (a local model folder) in '
                             '--llm-config')
        cls = HFCausalLMBackend
    else:
        raise ValueError(f'Unknown language backend {name!r}; expected template, openai or hf')
    try:
        return cls(**config)
    except TypeError as err:
        raise ValueError(f'Bad --llm-config for the {name} backend: {err}') from err
