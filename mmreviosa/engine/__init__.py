from .checkpoint import (CorruptCheckpointError, UnsafeCheckpointError, load_local_checkpoint,
                         mmengine_checkpoint_globals, plain_data_checkpoints)
from .cpu_distributed import CPUDistributedDataParallel, setup_cpu_distributed
from .hooks import FiniteLossHook, NonFiniteTrainingError
from .schedulers import WarmupLinearLR
from .strategy_checkpoints import (DEEPSPEED_MODEL_STATES, load_trained_checkpoint,
                                   read_trained_state_dict)

__all__ = [
    'FiniteLossHook', 'NonFiniteTrainingError',
    'CorruptCheckpointError', 'UnsafeCheckpointError', 'load_local_checkpoint',
    'mmengine_checkpoint_globals', 'plain_data_checkpoints', 'CPUDistributedDataParallel',
    'setup_cpu_distributed', 'WarmupLinearLR', 'DEEPSPEED_MODEL_STATES',
    'load_trained_checkpoint', 'read_trained_state_dict'
]
