from .finite_loss_hook import FiniteLossHook, NonFiniteTrainingError

__all__ = ['FiniteLossHook', 'NonFiniteTrainingError']
