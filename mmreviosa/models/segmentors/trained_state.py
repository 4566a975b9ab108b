"""Checkpoints that hold only what training changed."""
from typing import Iterator, Tuple

import torch


class TrainedStateMixin:
    """Leave frozen weights that can be re-read from disk out of the state dict.

    A submodule whose weights come from a local pretrained checkpoint declares
    it with a truthy ``pretrained`` or ``checkpoint`` attribute; its frozen
    parameters are then left out of saved checkpoints (they are reloaded from
    the pretrained files when the model is built) and are filled back from the
    built model when a checkpoint is loaded, so ``strict=True`` loading works.
    Buffers are always kept (they are small and include the role-token ids the
    MLLM checks on load).  Frozen parts that were randomly initialised (the
    tiny configs) are kept too, since nothing else could restore them.

    Works with both ``model.state_dict()`` and MMEngine's ``get_state_dict``,
    which both run state-dict hooks.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._register_state_dict_hook(TrainedStateMixin._drop_disk_weights)
        self._register_load_state_dict_pre_hook(self._restore_disk_weights)

    def _disk_backed_entries(self) -> Iterator[Tuple[str, torch.Tensor]]:
        """(name, parameter) of the frozen parameters backed by pretrained files."""
        for child_name, child in self.named_children():
            if not (getattr(child, 'pretrained', None) or getattr(child, 'checkpoint', None)):
                continue
            for name, param in child.named_parameters():
                if not param.requires_grad:
                    yield f'{child_name}.{name}', param

    @staticmethod
    def _drop_disk_weights(module, state_dict, prefix, local_metadata):
        for name, _ in module._disk_backed_entries():
            state_dict.pop(prefix + name, None)
        return state_dict

    def _restore_disk_weights(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        for name, tensor in self._disk_backed_entries():
            state_dict.setdefault(prefix + name, tensor.detach())
