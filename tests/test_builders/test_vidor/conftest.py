"""Fixtures of the VidOR conversion tests: a sample dataset and a stub chat server."""
import os.path as osp
import subprocess
import sys
import json
import urllib.request

import pytest

from vidor_sample_data import make_sample

HERE = osp.dirname(osp.abspath(__file__))


@pytest.fixture(scope='module')
def vidor_root(tmp_path_factory):
    """A clean three-video VidOR sample (``training`` split)."""
    root = str(tmp_path_factory.mktemp('vidor'))
    make_sample(root)
    return root


@pytest.fixture
def stub_server():
    """Start the stub chat server; returns ``start(faults=(), swap_roles=())``.

    ``start`` returns ``(base_url, request_count)`` where ``request_count()``
    asks the server how many chat requests it has answered.
    """
    processes = []

    def start(faults=(), swap_roles=()):
        process = subprocess.Popen(
            [sys.executable, osp.join(HERE, 'stub_chat_server.py'),
             '--faults', ','.join(faults), '--swap-roles', ','.join(swap_roles)],
            stdout=subprocess.PIPE, text=True)
        processes.append(process)
        port = int(process.stdout.readline())
        base_url = f'http://127.0.0.1:{port}/v1'

        def request_count() -> int:
            with urllib.request.urlopen(f'http://127.0.0.1:{port}/stats', timeout=5) as reply:
                return json.loads(reply.read())['requests']
        return base_url, request_count

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)
