from . import transforms  # noqa: F401  (registers the transforms)
from .interrvos import InterRVOSDataset

__all__ = ['InterRVOSDataset']
