"""Deterministic test doubles of the model, for testing data, engine and evaluation code."""
from .doubles import GTNoiseSegmentor, ToySegmentor

__all__ = ['GTNoiseSegmentor', 'ToySegmentor']
