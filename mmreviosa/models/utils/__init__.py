from .checkpoint_facts import CheckpointFactsMixin
from .frames import nearest_key_frames
from .precision import compute_in_float32, module_dtype, parse_dtype
from .trained_state import TrainedStateMixin

__all__ = ['CheckpointFactsMixin', 'TrainedStateMixin', 'nearest_key_frames',
           'compute_in_float32', 'module_dtype', 'parse_dtype']
