"""Checkpoints that hold only what training changed, plus the role-token ids."""
from typing import Dict, Iterator, Tuple

import torch

#: Key under which the role-token ids are stored in a checkpoint's state dict.
TOKEN_IDS_KEY = 'role_token_ids'


class TrainedStateMixin:
    """Drop weights that can be re-read from disk from the model's state dict.

    A submodule whose weights come from a local pretrained checkpoint declares
    it with a truthy ``pretrained`` or ``checkpoint`` attribute; its frozen
    parameters and its buffers are then left out of saved checkpoints (they
    are reloaded from the pretrained files when the model is built) and are
    filled back from the built model when a checkpoint is loaded.  Frozen parts
    that were randomly initialised (the tiny configs) are kept, since nothing
    else could restore them.  The role-token ids are saved under
    ``role_token_ids`` and checked on load.

    The class using it must define ``self.mllm`` with ``role_token_ids``.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._register_state_dict_hook(TrainedStateMixin._drop_disk_weights)
        self._register_load_state_dict_pre_hook(self._restore_disk_weights)

    def _disk_backed_entries(self) -> Iterator[Tuple[str, torch.Tensor]]:
        """(name, tensor) of frozen parameters and buffers backed by pretrained files."""
        for child_name, child in self.named_children():
            if not (getattr(child, 'pretrained', None) or getattr(child, 'checkpoint', None)):
                continue
            for name, param in child.named_parameters():
                if not param.requires_grad:
                    yield f'{child_name}.{name}', param
            for name, buf in child.named_buffers():
                yield f'{child_name}.{name}', buf

    def _token_ids_tensor(self) -> torch.Tensor:
        ids: Dict[str, int] = self.mllm.role_token_ids
        return torch.tensor([ids[k] for k in sorted(ids)], dtype=torch.long)

    @staticmethod
    def _drop_disk_weights(module, state_dict, prefix, local_metadata):
        for name, _ in module._disk_backed_entries():
            state_dict.pop(prefix + name, None)
        state_dict[prefix + TOKEN_IDS_KEY] = module._token_ids_tensor()
        return state_dict

    def _restore_disk_weights(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        saved_ids = state_dict.pop(prefix + TOKEN_IDS_KEY, None)
        if saved_ids is not None and not torch.equal(saved_ids.cpu(), self._token_ids_tensor()):
            raise ValueError(
                f'the checkpoint was trained with role-token ids {saved_ids.tolist()} but this '
                f'model\'s tokenizer gives {self._token_ids_tensor().tolist()} '
                f'(sorted by token: {sorted(self.mllm.role_token_ids)}); build the model with '
                'the tokenizer it was trained with')
        for name, tensor in self._disk_backed_entries():
            state_dict.setdefault(prefix + name, tensor.detach())
