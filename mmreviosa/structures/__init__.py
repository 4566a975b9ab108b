from .data_sample import InterRVOSDataSample, PackedDataSamples

__all__ = ['InterRVOSDataSample', 'PackedDataSamples']
