"""Mask heads of ReVIOSa."""
from mmreviosa.models.heads.prompt_film import PromptFeatureModulation
from mmreviosa.models.heads.sam2_builder import (TinyConvImageEncoder, build_sam2_from_config,
                                                 build_tiny_sam2, load_sam2_checkpoint)
from mmreviosa.models.heads.sam2_head import SAM2_PIXEL_MEAN, SAM2_PIXEL_STD, SAM2Features, SAM2Head

__all__ = [
    'SAM2Head', 'SAM2Features', 'SAM2_PIXEL_MEAN', 'SAM2_PIXEL_STD', 'TinyConvImageEncoder',
    'build_sam2_from_config', 'build_tiny_sam2', 'load_sam2_checkpoint', 'PromptFeatureModulation'
]
