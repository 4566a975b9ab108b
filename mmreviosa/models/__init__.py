from .data_preprocessor import InterRVOSDataPreprocessor
from .heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .mllm import *  # noqa: F401,F403
from .segmentors import *  # noqa: F401,F403
from .training_aids import *  # noqa: F401,F403

__all__ = ['InterRVOSDataPreprocessor']
