"""Stop a diverging run before it writes (or makes room for) a non-finite checkpoint."""
import math
from typing import Dict, List, Optional

import torch
from mmengine.dist import all_reduce
from mmengine.hooks import Hook

from mmreviosa.registry import HOOKS


class NonFiniteTrainingError(RuntimeError):
    """A training iteration gave a non-finite loss or non-finite weights."""


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Stop training at the first iteration with a non-finite loss or weight.

    A diverging run (e.g. a learning rate far too high) otherwise goes on with
    NaN losses every iteration, exits with status 0, and ``CheckpointHook``'s
    ``max_keep_ckpts`` deletes the last finite checkpoints to make room for
    NaN ones.  After each iteration this hook checks every loss (the keys of
    the model's ``parse_losses`` output containing ``'loss'``) and, with
    ``check_weights``, the trainable parameters the optimizer has just
    updated (a finite loss can still give an overflowing update), and raises
    :class:`NonFiniteTrainingError` naming the iteration (1-based, as in the
    log and the checkpoint names), the non-finite keys or parameters, and the
    last checkpoint, which is kept.

    Its priority (``ABOVE_NORMAL``) runs it before ``LoggerHook`` and
    ``CheckpointHook`` (``VERY_LOW``) in ``after_train_iter``, so the failing
    iteration is neither saved nor makes an older checkpoint be deleted.  In
    distributed training the verdict is all-reduced, so every rank stops at
    the same iteration.  Costs one small all-reduce and one device-to-host
    copy per iteration.

    Args:
        check_weights (bool): also check the trainable parameters.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, check_weights: bool = True):
        self.check_weights = check_weights

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[Dict[str, torch.Tensor]] = None) -> None:
        losses = {key: float(value) for key, value in (outputs or {}).items() if 'loss' in key}
        params = self._trainable_parameters(runner.model) if self.check_weights else []
        finite_losses = [math.isfinite(value) for value in losses.values()]
        finite_weights = torch.stack([torch.isfinite(p).all() for p in params.values()]) \
            if params else torch.ones(0, dtype=torch.bool)
        flags = torch.tensor(finite_losses + finite_weights.cpu().tolist(), dtype=torch.int32)
        if flags.numel():
            all_reduce(flags, op='min')  # one rank's NaN stops every rank
        if bool(flags.all()):
            return
        where = f'training stopped at iteration {runner.iter + 1}'
        last = runner.message_hub.get_info('last_ckpt')
        kept = (f'; the last checkpoint, {last}, was written before and is kept'
                if last else '; no checkpoint was written before')
        values = ', '.join(f'{key}={value:.4g}' for key, value in losses.items())
        bad_losses = [key for key, ok in zip(losses, flags[:len(losses)].tolist()) if not ok]
        if bad_losses:
            raise NonFiniteTrainingError(
                f'{where}: non-finite {", ".join(bad_losses)} ({values}){kept}. The run '
                f'diverged: lower the learning rate or check the data of this iteration')
        bad_params = [name for name, ok in zip(params, flags[len(losses):].tolist()) if not ok]
        raise NonFiniteTrainingError(
            f'{where}: non-finite weights after the update, in {self._shorten(bad_params)} '
            f'(every loss was finite: {values}){kept}. The update overflowed: lower the '
            f'learning rate or clip the gradients')

    @staticmethod
    def _trainable_parameters(model: torch.nn.Module) -> Dict[str, torch.Tensor]:
        return {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}

    @staticmethod
    def _shorten(names: List[str], shown: int = 3) -> str:
        """The first ``shown`` parameter names and how many more."""
        if not names:  # only another rank's weights are non-finite
            return 'the weights of another rank'
        more = f' and {len(names) - shown} more' if len(names) > shown else ''
        return ', '.join(names[:shown]) + more
