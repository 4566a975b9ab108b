from .checkpoint import (allow_mmengine_checkpoints, load_local_checkpoint,
                         mmengine_checkpoint_globals)
from .cpu_distributed import CPUDistributedDataParallel, setup_cpu_distributed

__all__ = [
    'allow_mmengine_checkpoints', 'load_local_checkpoint', 'mmengine_checkpoint_globals',
    'CPUDistributedDataParallel', 'setup_cpu_distributed'
]
