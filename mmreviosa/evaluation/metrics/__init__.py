from .interrvos_metric import InterRVOSMetric

__all__ = ['InterRVOSMetric']
