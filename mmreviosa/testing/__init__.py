"""Deterministic test doubles of the model, for testing data, engine and evaluation code, and
a loader of the repository's command-line scripts."""
from .doubles import GTNoiseSegmentor, ToySegmentor
from .tools import REPO_ROOT, load_tool

__all__ = ['GTNoiseSegmentor', 'ToySegmentor', 'REPO_ROOT', 'load_tool']
