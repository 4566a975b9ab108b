"""Peak memory of live tensors, measured on any device (the CPU included)."""
import weakref
from typing import Dict, List

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

__all__ = ['PeakTensorMemory']


class PeakTensorMemory(TorchDispatchMode):
    """Track the bytes of tensor storages created inside the context.

    Every tensor an operator returns is counted once per storage until the
    last tensor object using that storage is freed, so ``peak_bytes`` is the
    most memory that tensors created in the context held at one time (a view
    of a tensor from before the context adds nothing). Unlike
    the process RSS it is exact and repeatable, and unlike
    ``torch.cuda.max_memory_allocated`` it works on the CPU; tensors that
    existed before the context (weights, inputs) are not counted.

    Example:
        >>> with PeakTensorMemory() as memory:
        ...     model(inputs)
        >>> memory.peak_bytes
    """

    def __init__(self):
        super().__init__()
        self.current_bytes = 0
        self.peak_bytes = 0
        self._storages: Dict[int, List[int]] = {}  # data_ptr -> [bytes, live tensors]

    def _release(self, key: int) -> None:
        entry = self._storages.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.current_bytes -= entry[0]
            del self._storages[key]

    def _track(self, tensor: torch.Tensor, input_storages: set) -> None:
        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        entry = self._storages.get(key)
        if entry is None:
            if key == 0 or key in input_storages:
                return  # empty, or a view of a tensor from before the context
            entry = self._storages[key] = [storage.nbytes(), 0]
            self.current_bytes += entry[0]
            self.peak_bytes = max(self.peak_bytes, self.current_bytes)
        entry[1] += 1
        weakref.finalize(tensor, self._release, key)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        input_ids = {id(t) for t in inputs}
        input_storages = {t.untyped_storage().data_ptr() for t in inputs}
        for tensor in tree_flatten(out)[0]:
            # In-place ops return their input, which is not new memory.
            if isinstance(tensor, torch.Tensor) and id(tensor) not in input_ids:
                self._track(tensor, input_storages)
        return out
