from .davis_measures import (boundary_radius, contour_accuracy, disk_kernel, region_and_contour,
                             region_similarity, sequence_statistics)

__all__ = [
    'region_similarity', 'contour_accuracy', 'region_and_contour',
    'sequence_statistics', 'boundary_radius', 'disk_kernel'
]
