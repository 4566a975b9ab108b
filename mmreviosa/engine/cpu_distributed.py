"""Distributed runs on machines without GPUs (gloo), which MMEngine 0.10.7 does not start.

MMEngine's pytorch launcher calls ``torch.cuda.set_device`` and wraps the model
with ``device_ids=[LOCAL_RANK]``, both of which fail without CUDA.  The tools
call :func:`setup_cpu_distributed` so that ``tools/dist_train.sh CONFIG N``
runs N CPU processes with gloo on such a machine.
"""
import os

import torch
import torch.distributed as dist
from mmengine.model import MMDistributedDataParallel

from mmreviosa.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` for CPU modules (DDP needs ``device_ids=None`` there)."""

    def __init__(self, module, device_ids=None, **kwargs):
        super().__init__(module=module, device_ids=None, **kwargs)


def setup_cpu_distributed(cfg) -> None:
    """Start a gloo process group and a CPU DDP wrapper when launched without CUDA.

    Does nothing for non-distributed runs or when CUDA is available.  Only the
    ``pytorch`` launcher (torchrun: ``tools/dist_*.sh``) is handled.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available():
        return
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    if launcher != 'pytorch':
        raise RuntimeError(f'launcher {launcher!r} needs GPUs; on a CPU machine use '
                           'tools/dist_train.sh / dist_test.sh (torchrun)')
    if cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(
            # Scoped name: the Runner looks wrappers up in MMEngine's root registry.
            type='mmreviosa.CPUDistributedDataParallel', broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo', rank=int(os.environ['RANK']),
                                world_size=int(os.environ['WORLD_SIZE']))
