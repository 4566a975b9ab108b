"""VidOR -> InterRVOS annotation pipeline (relations to actor/target expressions).

Entry point: :func:`convert` (CLI: ``tools/dataset_converters/vidor_to_interrvos.py``).
"""
from .language import LanguageBackend, TemplateBackend, noun_phrase
from .backends import HFCausalLMBackend, OpenAIChatBackend, build_backend
from .masks import BoxMaskTracker, SAM2MaskTracker
from .pipeline import ConvertOptions, VideoConverter, convert, write_dataset
from .reader import (VideoReadError, VidORFormatError, VidORVideo, list_annotation_files,
                     load_vidor_video, sample_frame_ids)
from .vocabulary import (ACTION_PREDICATES, SPATIAL_PREDICATES, VIDOR_CATEGORIES,
                         predicate_phrases)

__all__ = [
    'convert', 'ConvertOptions', 'VideoConverter', 'write_dataset', 'LanguageBackend',
    'TemplateBackend', 'OpenAIChatBackend', 'HFCausalLMBackend', 'build_backend',
    'noun_phrase', 'BoxMaskTracker', 'SAM2MaskTracker',
    'VidORVideo', 'VidORFormatError', 'VideoReadError', 'load_vidor_video',
    'list_annotation_files', 'sample_frame_ids', 'VIDOR_CATEGORIES', 'ACTION_PREDICATES',
    'SPATIAL_PREDICATES', 'predicate_phrases'
]
