"""The InterRVOS file format and the files around it, in one place.

The bottom layer of mmreviosa: it imports numpy, pycocotools, OpenCV, PIL and
PyAV only (lazily where they are slow to import), never the datasets or the
models.  Everything that reads or writes a split goes through it: the dataset
(:mod:`mmreviosa.datasets`), the evaluation (:mod:`mmreviosa.evaluation`), the
offline builders (:mod:`mmreviosa.builders`) and the tools.

- :mod:`.annotations`: ``meta_expressions.json`` and ``mask_dict.json``, with
  the checks whose errors name the file, video id and expression id;
- :mod:`.split`: a split's annotations checked as the dataset checks them,
  for tools that need no frames;
- :mod:`.rle`: COCO RLE encoding and checked decoding, the union of a role's
  anno masks;
- :mod:`.images`: frames and mask PNGs, and the ImageNet statistics the
  models normalise frames with;
- :mod:`.video`: video files (PyAV).
"""
from .annotations import (MASK_FILE, META_FILE, InvalidAnnotationError, anno_mask_error,
                          check_expression, check_expression_masks, check_frame_names,
                          check_pair, expression_ids, read_expression, read_json_file,
                          read_mask_dict, read_meta_expressions, video_expressions,
                          write_annotations, write_json_file)
from .images import (IMAGENET_MEAN, IMAGENET_MEAN_255, IMAGENET_STD, IMAGENET_STD_255,
                     image_size, list_frame_names, read_binary_png, read_palette_png,
                     read_rgb_image, stack_frames, write_binary_png, write_jpeg)
from .rle import (FrameRLE, decode_masks, decode_rle, encode_masks, encode_rle,
                  union_of_annotations)
from .split import SplitAnnotations, annotation_frame_shape, read_split
from .video import (VIDEO_EXTENSIONS, count_video_frames, frame_names_for_length,
                    iter_video_frames, read_video_frames, video_frame_size, write_video_file)

__all__ = [
    'META_FILE', 'MASK_FILE', 'InvalidAnnotationError', 'read_json_file', 'write_json_file',
    'read_meta_expressions', 'read_mask_dict', 'write_annotations', 'expression_ids',
    'video_expressions', 'read_expression', 'check_expression', 'check_frame_names',
    'check_pair', 'anno_mask_error', 'check_expression_masks', 'SplitAnnotations', 'read_split',
    'annotation_frame_shape', 'FrameRLE', 'encode_rle', 'encode_masks', 'decode_rle',
    'decode_masks', 'union_of_annotations', 'IMAGENET_MEAN', 'IMAGENET_STD',
    'IMAGENET_MEAN_255', 'IMAGENET_STD_255', 'list_frame_names', 'read_rgb_image', 'write_jpeg',
    'image_size', 'read_palette_png', 'read_binary_png', 'write_binary_png', 'stack_frames',
    'VIDEO_EXTENSIONS', 'frame_names_for_length', 'video_frame_size',
    'count_video_frames', 'iter_video_frames', 'read_video_frames', 'write_video_file'
]
