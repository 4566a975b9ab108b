"""Pretrained weights and tokenizers come from local paths only, never from a hub download."""
import os.path as osp
from typing import Optional

#: How to make the native InternVL folders the configs point to.
INTERNVL_CONVERTER = 'python tools/model_converters/internvl2_5_to_hf.py SRC DST'


def internvl_hint(path: str) -> str:
    """What to run when a native InternVL folder is missing."""
    return (f'convert a published InternVL-2.5 checkpoint into it with `{INTERNVL_CONVERTER}` '
            f'(SRC: the downloaded OpenGVLab/InternVL2_5-* folder, DST: {path})')


def check_local_pretrained(path: str, what: str, hint: Optional[str] = None) -> str:
    """Raise unless ``path`` exists on this machine.

    ``from_pretrained`` treats a path that does not exist as the name of a hub
    repository and downloads it; callers check first and then load with
    ``local_files_only=True``.

    Args:
        path: local folder (or file) to read.
        what: what it is, for the message (e.g. 'InternVLMLLM pretrained').
        hint: how to make it, appended to the message.

    Returns:
        str: ``path`` with ``~`` expanded.

    Raises:
        FileNotFoundError: naming ``path``, ``what`` and the hint.
    """
    expanded = osp.expanduser(str(path))
    if not osp.exists(expanded):
        message = (f'{what}: {path} does not exist. Pretrained weights and tokenizers are read '
                   f'from local paths only (nothing is downloaded)')
        raise FileNotFoundError(message + (f'; {hint}.' if hint else '.'))
    return expanded
