"""A stub server speaking the OpenAI chat-completions protocol, for tests.

``python stub_chat_server.py [--faults F1,F2,...] [--swap-roles PRED,...]``
listens on a free loopback port and prints it on its first stdout line.

- ``POST /v1/chat/completions``: answers the question in the last user message
  (the JSON after "Input: "): describe -> an expression naming the object;
  interaction -> true only for "towards"; expressions -> the examples with
  " in the clip" appended, or with the roles swapped for the predicates in
  ``--swap-roles`` (a wrong answer the client must reject).
- The first requests get the faults in ``--faults``, in order: ``malformed``
  (not JSON), ``sleep:S`` (answer after S seconds), ``http500``, ``http400``.
- ``GET /stats``: ``{"requests": n}``, the number of chat requests so far.
"""
import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StubState:
    def __init__(self, faults, swap_roles):
        self.faults = list(faults)
        self.swap_roles = set(swap_roles)
        self.requests = 0
        self.lock = threading.Lock()

    def next_fault(self):
        with self.lock:
            self.requests += 1
            return self.faults.pop(0) if self.faults else None


def answer(question: dict, swap_roles: set) -> dict:
    task = question['task']
    if task == 'describe':
        return {'expression': f'the {question["object"]} seen in the clip'}
    if task == 'interaction':
        towards = question['predicate'] == 'towards'
        return {'is_interaction': towards,
                'reason': 'the subject moves to reach the object' if towards else 'only placed'}
    forward, inverse = question['example_forward'], question['example_inverse']
    if question['predicate'] in swap_roles:
        return {'forward': inverse, 'inverse': forward}
    return {'forward': forward + ' in the clip', 'inverse': inverse + ' in the clip'}


def make_handler(state: StubState):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep the test output clean
            pass

        def _send(self, code: int, body: dict):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == '/stats':
                self._send(200, {'requests': state.requests})
            else:
                self._send(404, {'error': 'not found'})

        def do_POST(self):
            if self.path != '/v1/chat/completions':
                self._send(404, {'error': 'not found'})
                return
            request = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
            fault = state.next_fault()
            if fault and fault.startswith('sleep:'):
                time.sleep(float(fault.split(':')[1]))
            if fault in ('http500', 'http400'):
                self._send(int(fault[4:]), {'error': {'message': fault}})
                return
            if fault == 'malformed':
                content = 'Sure! Here is the answer you asked for.'
            else:
                user = request['messages'][-1]['content']
                question = json.loads(user.split('Input: ', 1)[1])
                content = json.dumps(answer(question, state.swap_roles))
            self._send(200, {'id': 'stub', 'object': 'chat.completion', 'model': request['model'],
                             'choices': [{'index': 0, 'finish_reason': 'stop',
                                          'message': {'role': 'assistant', 'content': content}}]})
    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--faults', default='')
    parser.add_argument('--swap-roles', default='')
    args = parser.parse_args()
    state = StubState([f for f in args.faults.split(',') if f],
                      [p for p in args.swap_roles.split(',') if p])
    server = ThreadingHTTPServer(('127.0.0.1', 0), make_handler(state))
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
