"""The OpenAI-compatible backend sends the API key to its own origin only, and never over
plain HTTP to another machine. Real loopback HTTP servers, one thread each."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mmreviosa.builders.vidor.backends import OpenAIChatBackend, build_backend

KEY = 'sk-secret-test-key'
ANSWER = json.dumps({'expression': 'the dog seen in the clip'})


class RecordingServer:
    """A loopback HTTP server that records the headers of each request and answers as an
    OpenAI chat server, or redirects to ``redirect_to`` when set."""

    def __init__(self, redirect_code: int = 302):
        self.requests = []  # (method, path, {header: value})
        self.redirect_to = None
        self.redirect_code = redirect_code
        self.server = ThreadingHTTPServer(('127.0.0.1', 0), self._handler())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, host: str = '127.0.0.1') -> str:
        return f'http://{host}:{self.port}/v1'

    def _handler(self):
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def _handle(self):
                length = int(self.headers.get('Content-Length') or 0)
                if length:
                    self.rfile.read(length)
                owner.requests.append((self.command, self.path, dict(self.headers.items())))
                if owner.redirect_to is not None and self.path.endswith('/chat/completions'):
                    self.send_response(owner.redirect_code)
                    self.send_header('Location', owner.redirect_to)
                    self.send_header('Content-Length', '0')
                    self.end_headers()
                    return
                body = json.dumps({'choices': [{'message': {'role': 'assistant',
                                                            'content': ANSWER}}]}).encode()
                self.send_response(200)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _handle

        return Handler

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def servers():
    started = []

    def start(**kwargs):
        server = RecordingServer(**kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def _authorizations(server):
    return [headers.get('Authorization') for _, _, headers in server.requests]


def _ask(base_url):
    backend = OpenAIChatBackend('m', base_url, api_key=KEY, timeout=5, max_retries=0)
    return backend.complete([{'role': 'user', 'content': 'Input: {}'}])


def test_the_key_reaches_its_own_server(servers):
    api = servers()
    assert _ask(api.url()) == ANSWER
    assert _authorizations(api) == [f'Bearer {KEY}']


@pytest.mark.parametrize('other_host', ['127.0.0.1', 'localhost'],
                         ids=['other_port', 'other_host_and_port'])
def test_a_redirect_to_another_origin_does_not_carry_the_key(servers, other_host):
    api, elsewhere = servers(), servers()
    api.redirect_to = f'{elsewhere.url(other_host)}/chat/completions'
    try:
        _ask(api.url())
    except Exception:  # what the second server answers to a redirected request is not the point
        pass
    assert _authorizations(api) == [f'Bearer {KEY}']
    assert len(elsewhere.requests) == 1, 'the redirect was not followed: the test proves nothing'
    assert _authorizations(elsewhere) == [None]
    assert not any(KEY in value for value in elsewhere.requests[0][2].values())


def test_a_redirect_within_the_same_origin_keeps_the_key(servers):
    api = servers()
    api.redirect_to = f'{api.url()}/moved'
    _ask(api.url())
    assert _authorizations(api) == [f'Bearer {KEY}', f'Bearer {KEY}']


@pytest.mark.parametrize('base_url', ['http://example.invalid/v1', 'http://10.0.0.5:8000/v1',
                                      'http://api.openai.com/v1'])
def test_a_key_over_plain_http_to_another_machine_is_refused(base_url):
    with pytest.raises(ValueError, match='plain HTTP') as info:
        OpenAIChatBackend('m', base_url, api_key=KEY)
    assert KEY not in str(info.value)
    with pytest.raises(ValueError, match='plain HTTP'):
        build_backend('openai', {'model': 'm', 'base_url': base_url, 'api_key': KEY})


@pytest.mark.parametrize('base_url', ['https://example.invalid/v1', 'http://localhost:8000/v1',
                                      'http://127.0.0.1:8000/v1', 'http://[::1]:8000/v1'])
def test_https_or_loopback_accept_a_key(base_url):
    assert OpenAIChatBackend('m', base_url, api_key=KEY).api_key == KEY


def test_plain_http_without_a_key_is_accepted():
    assert OpenAIChatBackend('m', 'http://example.invalid/v1').api_key is None


def test_base_url_must_be_http():
    with pytest.raises(ValueError, match='http'):
        OpenAIChatBackend('m', 'file:///etc/passwd')
