from .data_sample import InterRVOSDataSample

__all__ = ['InterRVOSDataSample']
