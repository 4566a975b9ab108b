from .frames import nearest_key_frames
from .trained_state import TrainedStateMixin

__all__ = ['TrainedStateMixin', 'nearest_key_frames']
