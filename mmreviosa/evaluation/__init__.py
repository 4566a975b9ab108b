from .functional import contour_accuracy, region_and_contour, region_similarity, sequence_statistics
from .metrics import InterRVOSMetric

__all__ = [
    'InterRVOSMetric', 'region_similarity', 'contour_accuracy',
    'region_and_contour', 'sequence_statistics'
]
