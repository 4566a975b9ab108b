from .trained_state import TrainedStateMixin

__all__ = ['TrainedStateMixin']
