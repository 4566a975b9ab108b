from .attention_grounding import attention_grounding
from .davis_measures import (boundary_radius, contour_accuracy, disk_kernel, region_and_contour,
                             region_similarity, sequence_statistics)

__all__ = [
    'attention_grounding',
    'region_similarity', 'contour_accuracy', 'region_and_contour',
    'sequence_statistics', 'boundary_radius', 'disk_kernel'
]
