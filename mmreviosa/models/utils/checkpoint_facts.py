"""Facts a checkpoint must share with the config it is loaded into, saved with the weights.

Two configs can build models with the same state-dict keys and shapes that
still mean different things: the single-[SEG] baseline and ReVIOSa's role
tokens differ only in which token rows the answer uses, so a checkpoint of one
loads into the other under ``strict=True`` and scores 0 without an error.
``InternVLMLLM`` already saves its special-token ids as a buffer and refuses a
checkpoint whose ids differ; this mixin is the same idea for facts that are not
tensors: the module's :meth:`checkpoint_facts` are saved as its extra state
(``<prefix>_extra_state``) and compared before any weight is copied.

The extra state is a uint8 tensor holding the facts as JSON: every state-dict entry must be
a tensor where MMEngine broadcasts the state dict across DDP ranks after initialising the
weights (``Runner._init_model_weights``); a dict of strings there stops every distributed
run before its first step. Checkpoints that saved the facts as a plain dict still load.
"""
import json
import logging
from typing import Any, Dict

import torch
from mmengine.logging import print_log
from torch.nn.modules.module import _EXTRA_STATE_KEY_SUFFIX

#: Key of the facts inside the extra state (room for other extra state later).
FACTS_KEY = 'checkpoint_facts'


def encode_extra_state(facts: Dict[str, Any]) -> torch.Tensor:
    """The extra state holding ``facts``: ``{FACTS_KEY: facts}`` as UTF-8 JSON in a uint8
    tensor."""
    data = json.dumps({FACTS_KEY: facts}, sort_keys=True).encode('utf-8')
    return torch.tensor(list(data), dtype=torch.uint8)


def decode_extra_state(state: Any) -> Any:
    """The extra state of :func:`encode_extra_state` (or the plain dict older checkpoints
    saved) as a dict; anything else is returned as it is (the caller reports it)."""
    if isinstance(state, torch.Tensor) and state.dtype == torch.uint8 and state.dim() == 1:
        try:
            return json.loads(bytes(state.tolist()).decode('utf-8'))
        except ValueError:
            return state
    return state


def _describe(facts: Dict[str, Any]) -> str:
    return ', '.join(f'{key}={value!r}' for key, value in facts.items())


class CheckpointFactsMixin:
    """Save :meth:`checkpoint_facts` with the weights; refuse a checkpoint whose facts differ.

    Facts present on only one side are not compared, so that a fact added later
    does not lock out older checkpoints. A checkpoint written before facts were
    saved loads with a warning (nothing to compare).

    The class using it implements :meth:`checkpoint_facts`.
    """

    def checkpoint_facts(self) -> Dict[str, Any]:
        """What a checkpoint of this module must agree on with the config (plain data).

        Returns:
            dict: name -> str / int / bool / dict of those, e.g.
            ``{'role_mode': 'roles', 'role_tokens': {'[SEG_ACT]': 350, ...}}``.
        """
        raise NotImplementedError

    def get_extra_state(self) -> Dict[str, Any]:
        """Extra state saved in the state dict: the checkpoint facts (a uint8 JSON tensor,
        see the module docstring)."""
        return encode_extra_state(self.checkpoint_facts())

    def set_extra_state(self, state: Dict[str, Any]) -> None:
        """Nothing to restore: the facts were compared in :meth:`_load_from_state_dict`."""

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        key = prefix + _EXTRA_STATE_KEY_SUFFIX
        saved = decode_extra_state(state_dict.get(key))
        if not isinstance(saved, dict) or FACTS_KEY not in saved:
            print_log(f'The checkpoint of {type(self).__name__} records no checkpoint facts '
                      f'(written before they were saved): cannot check that it fits this '
                      f'config ({_describe(self.checkpoint_facts())}).',
                      logger='current', level=logging.WARNING)
            # Nothing to compare; keep strict loading from reporting the key as missing.
            state_dict[key] = self.get_extra_state()
        else:
            self.check_checkpoint_facts(saved[FACTS_KEY])
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def check_checkpoint_facts(self, saved: Dict[str, Any]) -> None:
        """Raise if facts saved in a checkpoint differ from this module's.

        Args:
            saved: the facts read from a checkpoint.

        Raises:
            ValueError: naming each differing fact on both sides, e.g.
                ``checkpoint: role_mode='single' ...; config: role_mode='roles' ...``.
        """
        own = self.checkpoint_facts()
        differing = [k for k in own if k in saved and saved[k] != own[k]]
        if differing:
            raise ValueError(
                f'The checkpoint does not fit this config (model {type(self).__name__}): '
                f'checkpoint: {_describe({k: saved[k] for k in differing})}; '
                f'config: {_describe({k: own[k] for k in differing})}. Load it with the config '
                f'it was trained with.')
