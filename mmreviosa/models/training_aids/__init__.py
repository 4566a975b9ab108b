"""Optional plug-ins that let a ReVIOSa trained from scratch (the tiny configs) learn in
minutes; the real-scale configs use none of them. How the model calls them:
:mod:`mmreviosa.models.segmentors.plugin_inputs`."""
from .point_prompts import (AttentionPointPrompts, GTPointMaskLoss, attention_points,
                            mask_centroids, points_per_frame, soft_argmax_points)
from .prompt_film import PromptFeatureModulation
from .visual_prompts import VisualPromptAlignLoss, VisualPromptMaskLoss, mask_pooled_features

__all__ = [
    'AttentionPointPrompts', 'GTPointMaskLoss', 'PromptFeatureModulation',
    'VisualPromptAlignLoss', 'VisualPromptMaskLoss', 'attention_points', 'mask_centroids',
    'mask_pooled_features', 'points_per_frame', 'soft_argmax_points'
]
