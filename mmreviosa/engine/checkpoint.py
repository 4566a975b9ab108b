"""Let MMEngine read its own training checkpoints under torch >= 2.6.

torch >= 2.6 loads with ``weights_only=True`` by default, and MMEngine 0.10.7
saves its ``message_hub`` (``HistoryBuffer`` objects holding numpy arrays and a
dict of their statistics methods, pickled through ``getattr``) in every
checkpoint, so ``--resume`` fails with "Unsupported global:
mmengine.logging.history_buffer.HistoryBuffer".  Instead of turning the safe
loader off (``weights_only=False`` runs arbitrary pickled code), MMEngine's
local-file loader is replaced by one that keeps ``weights_only=True`` and
allowlists, only while it reads, the plain-data classes those checkpoints
contain.  ``getattr`` is among them: the weights-only unpickler still refuses to
*call* anything not allowlisted, so this allows reading attributes, not running
code.  MMEngine 0.10.7 has no switch for this, hence this module.
"""
import os.path as osp

import torch
from mmengine.runner.checkpoint import CheckpointLoader

_REGISTERED = False


def mmengine_checkpoint_globals() -> list:
    """Objects found in MMEngine checkpoints besides tensors and containers."""
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    allowed = [HistoryBuffer, getattr, _reconstruct, scalar, np.ndarray, np.dtype]
    # One dtype class per numpy scalar type (np.dtypes.Float64DType, ...).
    allowed += [getattr(np.dtypes, name) for name in dir(np.dtypes) if name.endswith('DType')]
    return allowed


def load_local_checkpoint(filename: str, map_location=None):
    """Load a local checkpoint with ``weights_only=True`` and the MMEngine allowlist."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    with torch.serialization.safe_globals(mmengine_checkpoint_globals()):
        return torch.load(filename, map_location=map_location, weights_only=True)


def allow_mmengine_checkpoints() -> None:
    """Make MMEngine's loader of local files use :func:`load_local_checkpoint` (idempotent)."""
    global _REGISTERED
    if not _REGISTERED:
        CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint, force=True)
        _REGISTERED = True
