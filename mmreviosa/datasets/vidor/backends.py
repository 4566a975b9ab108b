"""Chat backends: an OpenAI-compatible HTTP server and a local transformers causal LM.

Both share the prompts, cache, retries and strict parsing of
:class:`~mmreviosa.datasets.vidor.llm.ChatBackend`; they only differ in how a
chat is sent.  :func:`build_backend` builds any backend by name.
"""
import json
import os
import os.path as osp
from typing import Any, Dict, List, Optional

from mmreviosa.datasets.vidor.language import LanguageBackend, TemplateBackend
from mmreviosa.datasets.vidor.llm import ChatBackend, RefusedRequest, TransientError


class OpenAIChatBackend(ChatBackend):
    """Any server speaking the OpenAI chat-completions protocol (stdlib HTTP).

    Args:
        model: model name sent in each request.
        base_url: API root including ``/v1`` (``POST {base_url}/chat/completions``).
        api_key: sent as a Bearer token when given.
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
        self.api_key = api_key
        self.timeout = timeout
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.json_mode = json_mode

    def model_id(self) -> str:
        return self.model

    def complete(self, messages: List[Dict[str, str]]) -> str:
        import socket
        import urllib.error
        import urllib.request
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
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
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
        model_path: local model folder.
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
        self.model_path = model_path
        self.tokenizer_path = tokenizer_path or model_path
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
            self._tokenizer = AutoTokenizer.from_pretrained(self.tokenizer_path)
            self._model = AutoModelForCausalLM.from_pretrained(self.model_path).to(self.device)
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
