"""Checkpoints of a component that hold only what training changed."""
from typing import List


class TrainedStateMixin:
    """With ``save_trained_only``, leave frozen parameters out of the state dict.

    For a component whose frozen weights come from local pretrained files (the
    InternVL folder, the SAM2.1 checkpoint), saving them in every training
    checkpoint would only copy those files.  With ``save_trained_only`` true,
    the state dict holds the trained parameters and all buffers (small; they
    include the role-token ids); loading fills the frozen parameters back from
    the built module, so ``strict=True`` loading still works.  Components with
    random frozen weights (the tiny configs) must keep it false: nothing else
    could restore those weights.

    Works with ``Module.state_dict`` and MMEngine's ``get_state_dict``, which
    both run state-dict hooks.  The class using it sets ``save_trained_only``
    and may override :meth:`trained_parameter_names`.
    """

    save_trained_only: bool = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._register_state_dict_hook(TrainedStateMixin._drop_frozen)
        self._register_load_state_dict_pre_hook(self._restore_frozen)

    def trained_parameter_names(self) -> List[str]:
        """Names (relative to this module) of the parameters that training changes."""
        return [name for name, param in self.named_parameters() if param.requires_grad]

    def _state_frozen_parameters(self):
        trained = set(self.trained_parameter_names())
        return [(n, p) for n, p in self.named_parameters() if n not in trained]

    @staticmethod
    def _drop_frozen(module, state_dict, prefix, local_metadata):
        if module.save_trained_only:
            for name, _ in module._state_frozen_parameters():
                state_dict.pop(prefix + name, None)
        return state_dict

    def _restore_frozen(self, state_dict, prefix, local_metadata, strict, missing_keys,
                        unexpected_keys, error_msgs):
        if self.save_trained_only:
            for name, param in self._state_frozen_parameters():
                state_dict.setdefault(prefix + name, param.detach())
