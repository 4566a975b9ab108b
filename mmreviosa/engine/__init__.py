from .checkpoint import (allow_mmengine_checkpoints, load_local_checkpoint,
                         mmengine_checkpoint_globals)

__all__ = [
    "allow_mmengine_checkpoints", "load_local_checkpoint", "mmengine_checkpoint_globals"
]
