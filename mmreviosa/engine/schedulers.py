"""A learning-rate warm-up that never rounds to zero iterations."""
import math

from mmengine.optim.scheduler import LinearLR
from mmengine.optim.scheduler.param_scheduler import INF

from mmreviosa.registry import PARAM_SCHEDULERS

__all__ = ['WarmupLinearLR']


@PARAM_SCHEDULERS.register_module()
class WarmupLinearLR(LinearLR):
    """MMEngine's ``LinearLR`` whose epoch-based length is at least one iteration.

    A warm-up given in epochs (``end=0.05, convert_to_iter_based=True``) becomes
    ``int(0.05 * epoch_length)`` iterations in MMEngine: 0 for an epoch of fewer
    than 20 iterations, where ``LinearLR`` refuses to start ("end should be
    larger than begin"), and 1 for 20-39 iterations, where it never leaves
    ``start_factor`` (it changes the value from its second iteration on, and a
    one-iteration range has none). Here the end is rounded up, to at least
    two iterations after ``begin``: the first at ``start_factor``, the next at
    ``end_factor``.
    """

    @classmethod
    def build_iter_from_epoch(cls, *args, begin=0, end=INF, by_epoch=True, epoch_length=None,
                              **kwargs):
        assert by_epoch, 'only epoch-based arguments (by_epoch=True) convert to iterations'
        assert epoch_length is not None and epoch_length > 0, (
            f'epoch_length must be a positive integer, got {epoch_length}')
        begin = int(begin * epoch_length)
        if end != INF:
            end = max(math.ceil(end * epoch_length), begin + 2)
        return cls(*args, begin=begin, end=end, by_epoch=False, **kwargs)
