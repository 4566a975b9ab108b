"""Shared set-up of the SAM2 head tests: one torch thread per test module."""
import pytest
import torch


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
