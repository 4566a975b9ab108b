"""Read checkpoint files as plain data, for mmreviosa's own tools and API.

torch >= 2.6 loads with ``weights_only=True`` by default, and MMEngine 0.10.7
saves its ``message_hub`` in every training checkpoint: ``HistoryBuffer``
objects holding numpy arrays, plus a dict of their statistics methods that
pickle writes as ``getattr(HistoryBuffer, 'mean')``.  Plain
``torch.load(weights_only=True)`` therefore refuses to ``--resume``
("Unsupported global: mmengine.logging.history_buffer.HistoryBuffer").

:func:`load_local_checkpoint` keeps the weights-only unpickler and allowlists
exactly what those checkpoints hold (:func:`mmengine_checkpoint_globals`).
``builtins.getattr`` is *not* allowlisted: a pickle that may call ``getattr``
on what it has built reaches any module through ``__globals__`` and ends in
``exec``.  The name ``builtins.getattr`` is instead bound to
:func:`history_buffer_getattr`, which returns only the four statistics methods
of ``HistoryBuffer`` and refuses everything else.

Nothing is installed into MMEngine on import: a project that imports
mmreviosa keeps MMEngine's own loader.  Our entry points (``tools/train.py``,
``tools/test.py``, :func:`mmreviosa.apis.init_model`, hence the demo and the
exporters) read checkpoints inside :func:`plain_data_checkpoints`, which routes
MMEngine's local-file scheme to :func:`load_local_checkpoint` and restores the
previous loader on exit.
"""
import contextlib
import os.path as osp
import pickle
import threading
import zipfile
from typing import Callable, Iterator, List, Optional

import torch
from mmengine.runner.checkpoint import CheckpointLoader

#: The statistics MMEngine's HistoryBuffer registers on itself and pickles by name.
HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')

# The reason history_buffer_getattr refused, for the error raised after torch wraps it.
_refusal = threading.local()


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint asks for more than plain data (code, or objects outside the allowlist)."""


class CorruptCheckpointError(RuntimeError):
    """A checkpoint file is empty, truncated or otherwise unreadable."""


def history_buffer_getattr(obj, name: str):
    """``getattr`` as checkpoints may use it: ``HistoryBuffer``'s statistics methods only.

    Bound to the pickle name ``builtins.getattr`` while :func:`load_local_checkpoint`
    reads; MMEngine's ``HistoryBuffer.__getstate__`` pickles its methods this way.

    Args:
        obj: the object the pickle asks an attribute of.
        name: the attribute name.

    Returns:
        The unbound method ``HistoryBuffer.<name>``.

    Raises:
        pickle.UnpicklingError: for any other (object, name) pair.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    if obj is HistoryBuffer and name in HISTORY_BUFFER_STATISTICS:
        return getattr(HistoryBuffer, name)
    shown = obj.__qualname__ if isinstance(obj, type) else type(obj).__qualname__ + ' object'
    reason = (f'it calls getattr({shown}, {name!r}); only getattr(HistoryBuffer, name) for name '
              f'in {HISTORY_BUFFER_STATISTICS} is allowed')
    _refusal.reason = reason
    raise pickle.UnpicklingError(reason)


def mmengine_checkpoint_globals() -> list:
    """What MMEngine checkpoints hold besides tensors and containers, for ``safe_globals``.

    Returns:
        list: ``HistoryBuffer``; numpy's array and scalar reconstructors, ``ndarray``,
        ``dtype`` and its per-type classes (a BUILD on a dtype needs its class); and
        ``(history_buffer_getattr, 'builtins.getattr')``.  The reconstructors are
        listed under their numpy 1.x and 2.x module names, so that checkpoints
        written with either load.
    """
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    allowed = [HistoryBuffer, np.ndarray, np.dtype,
               (history_buffer_getattr, 'builtins.getattr')]
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        allowed += [(_reconstruct, f'{module}._reconstruct'), (scalar, f'{module}.scalar')]
    allowed += [getattr(np.dtypes, name) for name in dir(np.dtypes) if name.endswith('DType')]
    return allowed


def _check_complete(filename: str) -> None:
    """Raise :class:`CorruptCheckpointError` for an empty or cut-off checkpoint file."""
    size = osp.getsize(filename)
    if size == 0:
        raise CorruptCheckpointError(
            f'{filename} is empty (0 bytes): the checkpoint was not written completely (a run '
            f'killed while saving, a full disk or an interrupted copy). Use another checkpoint '
            f'or copy it again.')
    with open(filename, 'rb') as f:
        head = f.read(4)
    # torch.save writes a zip archive whose directory is at the very end: a truncated file
    # keeps the local header at the start and loses the directory.
    if head == b'PK\x03\x04' and not zipfile.is_zipfile(filename):
        raise CorruptCheckpointError(
            f'{filename} is truncated or corrupt: it starts like a PyTorch checkpoint (zip '
            f'archive) but its end, the zip directory, is missing ({size} bytes). Use another '
            f'checkpoint or copy it again.')


def _refused(filename: str) -> Exception:
    """The error to raise when the weights-only unpickler stops.

    torch's own message advises ``weights_only=False`` (which runs the pickle);
    this one names what was refused and never suggests that.
    """
    reason = getattr(_refusal, 'reason', None)
    _refusal.reason = None
    if reason is None:
        try:
            unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
        except Exception:  # not even a readable pickle
            return CorruptCheckpointError(
                f'{filename} is truncated or corrupt: it is not a readable PyTorch checkpoint '
                f'(the pickle inside cannot be parsed).')
        reason = (f'it names {", ".join(sorted(unsafe))}' if unsafe else
                  'its pickle does more than rebuild plain data')
    return UnsafeCheckpointError(
        f'Refused to load {filename}: {reason}. Checkpoints are read as plain data only '
        f'(tensors, containers, numbers, strings, numpy arrays and MMEngine log buffers); '
        f'nothing in a checkpoint is run. Use a checkpoint written by mmreviosa / MMEngine '
        f'training or tools/model_converters/export_reviosa.py.')


@contextlib.contextmanager
def _restored_history_buffer_statistics() -> Iterator[None]:
    """Undo what a checkpoint writes into ``HistoryBuffer``'s class-level registry.

    ``HistoryBuffer.__setstate__`` updates the class attribute
    ``_statistics_methods`` with the pickled dict: loading must not change how
    every buffer of the process computes its statistics.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    registry = HistoryBuffer._statistics_methods
    saved = dict(registry)
    try:
        yield
    finally:
        registry.clear()
        registry.update(saved)
        for name in HISTORY_BUFFER_STATISTICS:  # loaded buffers look these up by name
            registry.setdefault(name, getattr(HistoryBuffer, name))


def load_local_checkpoint(filename: str, map_location=None):
    """Load a local checkpoint file as plain data (weights-only, narrow allowlist).

    Args:
        filename: path of a file written by ``torch.save`` (``~`` is expanded).
        map_location: as for :func:`torch.load`.

    Returns:
        The loaded object (for MMEngine checkpoints a dict with ``state_dict``,
        ``meta``, ``message_hub``, ``optimizer``, ``param_schedulers``).

    Raises:
        FileNotFoundError: no such file.
        CorruptCheckpointError: the file is empty, truncated or unreadable.
        UnsafeCheckpointError: the file asks for code or objects outside
            :func:`mmengine_checkpoint_globals`.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    _check_complete(filename)
    _refusal.reason = None
    try:
        with torch.serialization.safe_globals(mmengine_checkpoint_globals()), \
                _restored_history_buffer_statistics():
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        with torch.serialization.safe_globals(mmengine_checkpoint_globals()):
            raise _refused(filename) from None
    except (EOFError, zipfile.BadZipFile) as err:
        raise CorruptCheckpointError(
            f'{filename} is truncated or corrupt ({type(err).__name__}: {err}).') from None
    except (PermissionError, FileNotFoundError):
        raise
    except (RuntimeError, OSError) as err:
        # torch's zip reader reports a cut-off archive as a RuntimeError ("failed finding
        # central directory", "unexpected EOF") or as EINVAL on a read past the end.
        text = str(err)
        if isinstance(err, RuntimeError) and not any(
                key in text for key in ('PytorchStreamReader', 'EOF', 'corrupted')):
            raise
        raise CorruptCheckpointError(
            f'{filename} is truncated or corrupt ({text.splitlines()[0][:200]}).') from None


def load_from_plain_data(filename: str, map_location=None):
    """MMEngine ``CheckpointLoader`` scheme: :func:`load_local_checkpoint`.

    (MMEngine logs the loader's name after its 10th character: "plain_data".)
    """
    return load_local_checkpoint(filename, map_location)


@contextlib.contextmanager
def plain_data_checkpoints() -> Iterator[None]:
    """While active, MMEngine reads local checkpoint files with :func:`load_local_checkpoint`.

    Covers every MMEngine path that reads a local file (``Runner.load_checkpoint``,
    ``resume``, ``load_from``, ``mmengine.runner.load_checkpoint``); other schemes
    (``http://`` ...) keep MMEngine's loaders.  The previous local loader is put
    back on exit, so nothing outlives the block.

    Example:
        >>> with plain_data_checkpoints():
        ...     runner.train()  # --resume reads message_hub without weights_only=False
    """
    previous: Optional[Callable] = CheckpointLoader._schemes.get('')
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_plain_data, force=True)
    try:
        yield
    finally:
        if previous is None:
            CheckpointLoader._schemes.pop('', None)
        else:
            CheckpointLoader.register_scheme(prefixes='', loader=previous, force=True)


__all__: List[str] = [
    'CorruptCheckpointError', 'UnsafeCheckpointError', 'HISTORY_BUFFER_STATISTICS',
    'history_buffer_getattr', 'mmengine_checkpoint_globals', 'load_local_checkpoint',
    'load_from_plain_data', 'plain_data_checkpoints'
]
