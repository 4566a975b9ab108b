"""Shared set-up of the MLLM tests: one torch thread per test."""
import pytest

from mmreviosa.testing.tiny import one_torch_thread


@pytest.fixture(autouse=True)
def one_thread():
    with one_torch_thread():
        yield
