from .context_length import CheckContextLength
from .conversation import TokenizeConversation
from .formatting import PackInterRVOSInputs
from .loading import LoadRoleMasks, LoadVideoFrames
from .processing import ResizeForModels, VideoHorizontalFlip
from .sampling import SampleFrames

__all__ = [
    'SampleFrames', 'LoadVideoFrames', 'LoadRoleMasks', 'ResizeForModels',
    'VideoHorizontalFlip', 'TokenizeConversation', 'CheckContextLength', 'PackInterRVOSInputs'
]
