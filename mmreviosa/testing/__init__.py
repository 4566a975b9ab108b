"""Deterministic test doubles of the model, for testing data, engine and evaluation code, a
loader of the repository's command-line scripts, and slow reference implementations."""
from .doubles import GTNoiseSegmentor, ToySegmentor
from .devices import UnplacedTensorsOn
from .memory import PeakTensorMemory
from .reference import info_nce_by_loop
from .tools import REPO_ROOT, load_tool

__all__ = ['GTNoiseSegmentor', 'ToySegmentor', 'REPO_ROOT', 'load_tool', 'info_nce_by_loop',
           'PeakTensorMemory', 'UnplacedTensorsOn']
