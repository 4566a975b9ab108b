"""A read-only mapping stored as pickled bytes, shared by dataloader workers."""
import pickle
from typing import Any, Dict

import numpy as np


class PickledStore:
    """A read-only ``str -> value`` mapping held as pickled bytes in numpy arrays.

    Keys live in a sorted numpy string array and values in one byte buffer, so
    dataloader workers forked from the main process share the pages instead of
    copying them on first read (Python objects would be copied because reading
    them touches their reference counts).  This is how mmengine stores
    ``data_list``; here it holds what many items share (a video's frame list,
    an annotation's masks) exactly once.
    """

    def __init__(self, items: Dict[str, Any]):
        keys = sorted(items)
        blobs = [pickle.dumps(items[k], protocol=4) for k in keys]
        self._keys = np.array(keys, dtype=str) if keys else np.zeros(0, dtype='<U1')
        self._ends = np.cumsum([len(b) for b in blobs], dtype=np.int64)
        self._bytes = np.frombuffer(b''.join(blobs), dtype=np.uint8)

    def _find(self, key: str) -> int:
        pos = int(np.searchsorted(self._keys, key))
        if pos >= len(self._keys) or self._keys[pos] != key:
            return -1
        return pos

    def __contains__(self, key: str) -> bool:
        return self._find(key) >= 0

    def __getitem__(self, key: str) -> Any:
        pos = self._find(key)
        if pos < 0:
            raise KeyError(key)
        start = 0 if pos == 0 else int(self._ends[pos - 1])
        return pickle.loads(memoryview(self._bytes[start:int(self._ends[pos])]))

    def __len__(self) -> int:
        return len(self._keys)
