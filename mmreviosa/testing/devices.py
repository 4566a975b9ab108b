"""Find tensors that our code creates on the default device, on a machine without a GPU."""
import sys

import torch
from torch.overrides import TorchFunctionMode

__all__ = ['UnplacedTensorsOn']

#: Functions that create a tensor on the default device unless given ``device=``.
_FACTORIES = {torch.tensor, torch.as_tensor, torch.zeros, torch.ones, torch.full, torch.empty,
              torch.arange, torch.linspace, torch.rand, torch.randn, torch.randint, torch.eye}


class UnplacedTensorsOn(TorchFunctionMode):
    """Create the tensors that a package makes without ``device=`` on another device.

    On a GPU run, ``torch.zeros(n)`` in the loss path lands on the CPU next to
    CUDA logits and the step fails; on a CPU run nothing shows. Inside this
    context every such tensor made by code of ``package`` goes to ``device``
    (the ``meta`` device by default), so mixing it with the model's tensors
    fails on a CPU exactly where it would fail on a GPU. Library code
    (transformers, peft, sam2) is left alone, and ``torch.from_numpy``, which
    has no device argument, is refused outright in ``package``.

    Args:
        device: where the unplaced tensors go.
        package: module-name prefix of the code under test.
    """

    def __init__(self, device: str = 'meta', package: str = 'mmreviosa.'):
        super().__init__()
        self.device = torch.device(device)
        self.package = package

    def _from_package(self) -> bool:
        caller = sys._getframe(2)  # 0: this method, 1: __torch_function__
        name = caller.f_globals.get('__name__', '')
        return name.startswith(self.package) and not name.startswith('mmreviosa.testing')

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in _FACTORIES and kwargs.get('device') is None and self._from_package():
            kwargs['device'] = self.device
        elif func is torch.from_numpy and self._from_package():
            raise RuntimeError('torch.from_numpy in the model makes a CPU tensor on every '
                               'device: create it with torch.as_tensor(..., device=...)')
        return func(*args, **kwargs)
