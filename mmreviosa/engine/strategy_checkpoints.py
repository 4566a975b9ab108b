"""Read the checkpoint that any training config writes, for testing and export.

* ``Runner`` (DDP) and FSDP with ``state_dict_cfg='full'``: one file,
  ``{'state_dict': ..., 'meta': ..., ...}``.
* DeepSpeed (``FlexibleRunner`` + ``DeepSpeedStrategy``): a folder named like the
  file, ``epoch_1.pth/``, whose ``mp_rank_00_model_states.pt`` holds the model's
  state dict under ``'module'`` (weights in the engine's dtype, bf16 in our
  ZeRO-2 config) next to DeepSpeed's own fields and MMEngine's ``meta``. With
  ZeRO-1/2 the parameters are not partitioned, so that file is complete.
* FSDP with ``state_dict_cfg='local'`` (MMEngine's default): a folder of one
  ``rank{N}.pth`` per process, shards of flattened parameters that only the
  same FSDP layout can read; refused with what to do instead.

Testing needs no sharding (the trained state is small; frozen weights come from
the pretrained files), so ``tools/test.py`` builds a plain ``Runner`` for every
config and loads through :func:`load_trained_checkpoint`.
"""
import glob
import os.path as osp
from typing import Optional

from mmengine.model import is_model_wrapper
from mmengine.runner.checkpoint import _load_checkpoint_to_model
from torch import nn

from .checkpoint import load_local_checkpoint

__all__ = ['DEEPSPEED_MODEL_STATES', 'read_trained_state_dict', 'load_trained_checkpoint']

#: The model file of a DeepSpeed checkpoint folder (model parallel rank 0).
DEEPSPEED_MODEL_STATES = 'mp_rank_00_model_states.pt'


def read_trained_state_dict(path: str) -> dict:
    """The model state dict of a checkpoint file or of a DeepSpeed checkpoint folder.

    Args:
        path: a checkpoint file, or the folder DeepSpeed wrote for it.

    Returns:
        dict: parameter name -> tensor, as the model's ``state_dict()`` names them.

    Raises:
        FileNotFoundError: nothing at ``path``.
        ValueError: a folder that is not a DeepSpeed checkpoint (e.g. FSDP shards).
    """
    path = osp.expanduser(path)
    if osp.isdir(path):
        model_states = osp.join(path, DEEPSPEED_MODEL_STATES)
        if osp.isfile(model_states):
            return load_local_checkpoint(model_states, map_location='cpu')['module']
        if glob.glob(osp.join(path, 'rank*.pth')):
            raise ValueError(
                f'{path} holds FSDP shards (rank*.pth, state_dict_cfg="local"), which only the '
                f'same FSDP layout on the same number of GPUs can read. Train with '
                f'strategy.state_dict_cfg="full" (configs/reviosa/reviosa_4b_fsdp.py does) to '
                f'get one file that tools/test.py reads.')
        raise ValueError(f'{path} is a folder but not a DeepSpeed checkpoint (no '
                         f'{DEEPSPEED_MODEL_STATES}) and not a checkpoint file')
    if not osp.exists(path):
        raise FileNotFoundError(f'checkpoint {path} does not exist')
    checkpoint = load_local_checkpoint(path, map_location='cpu')
    return checkpoint.get('state_dict', checkpoint)


def load_trained_checkpoint(model: nn.Module, path: str, strict: bool = True,
                            logger: Optional[object] = None) -> None:
    """Load a checkpoint of any training config (see the module docstring) into ``model``.

    Args:
        model: the model, or a model wrapper (DDP) around it.
        path: checkpoint file or DeepSpeed folder.
        strict: refuse missing or unexpected keys.
        logger: MMEngine logger for the loading report.
    """
    state_dict = read_trained_state_dict(path)
    if is_model_wrapper(model):
        model = model.module
    # Parameters that DeepSpeed keeps in bf16 load into the model's own dtypes.
    _load_checkpoint_to_model(model, {'state_dict': state_dict}, strict=strict, logger=logger,
                              revise_keys=[(r'^module\.', '')])
