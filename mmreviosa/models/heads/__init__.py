"""Mask heads of ReVIOSa."""
from mmreviosa.models.heads.sam2_builder import (TinyConvImageEncoder, build_sam2_from_config,
                                                 build_tiny_sam2, load_sam2_checkpoint)
from mmreviosa.models.heads.sam2_head import SAM2Features, SAM2Head

__all__ = [
    'SAM2Head', 'SAM2Features', 'TinyConvImageEncoder', 'build_sam2_from_config',
    'build_tiny_sam2', 'load_sam2_checkpoint'
]
