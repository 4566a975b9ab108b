"""Reading and writing video files with PyAV (the one place that decodes them).

Frames are RGB ``uint8`` arrays of shape ``(H, W, 3)`` everywhere in
mmreviosa; a video read from a file gets frame names that are its zero-padded
frame indices (``'00000'``, ``'00001'``, ...), the naming of the JPEG folders.
"""
import os.path as osp
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

#: File suffixes recognised as video files (lower case).
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm')


def frame_names_for_length(num_frames: int, width: int = 5) -> List[str]:
    """Names ``'00000' ... `` of the frames of a video read from a file."""
    return [str(i).zfill(width) for i in range(num_frames)]


def _open(path: str):
    import av
    if not osp.isfile(path):
        raise OSError(f'Video file {path} does not exist')
    try:
        return av.open(path)
    except Exception as err:  # PyAV raises several error types (FFmpegError, OSError)
        raise OSError(f'Cannot open video file {path}: {err}') from err


def _decoded_frames(path: str) -> Iterator:
    """PyAV frames of the first video stream of ``path``, in order (OSError on failure)."""
    with _open(path) as container:
        if not container.streams.video:
            raise OSError(f'Video file {path} has no video stream')
        frames = container.decode(container.streams.video[0])
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                return
            except Exception as err:  # PyAV raises several error types
                raise OSError(f'Cannot decode video file {path}: {err}') from err
            yield frame


def video_frame_size(path: str) -> tuple:
    """``(H, W)`` of the first video stream of ``path``, from its header."""
    with _open(path) as container:
        if not container.streams.video:
            raise OSError(f'Video file {path} has no video stream')
        ctx = container.streams.video[0].codec_context
        return int(ctx.height), int(ctx.width)


def count_video_frames(path: str) -> int:
    """Number of frames of the first video stream of ``path``.

    Decodes the stream to count: the frame count in the header is missing or
    approximate for several containers, and a wrong count would silently
    misalign frames and masks.
    """
    return sum(1 for _ in _decoded_frames(path))


def iter_video_frames(path: str, frame_inds: Optional[Iterable[int]] = None
                      ) -> Iterator[Tuple[int, np.ndarray]]:
    """Decode frames of a video file, streaming (one frame in memory at a time).

    Args:
        path: the video file.
        frame_inds: indices of the frames to yield (order and repeats do not
            matter); ``None`` yields every frame.

    Yields:
        ``(index, frame)`` in increasing index order, frame ``(H, W, 3)``
        uint8 RGB; stops early when the file has fewer frames than asked for.

    Raises:
        OSError: the file is missing, has no video stream or cannot be decoded.
    """
    wanted = None if frame_inds is None else set(int(i) for i in frame_inds)
    if wanted is not None and not wanted:
        return
    last = None if wanted is None else max(wanted)
    for index, frame in enumerate(_decoded_frames(path)):
        if wanted is None or index in wanted:
            yield index, frame.to_ndarray(format='rgb24')
        if last is not None and index >= last:
            return


def read_video_frames(path: str, frame_inds: Optional[Sequence[int]] = None) -> np.ndarray:
    """Decode frames of a video file.

    Args:
        path: the video file.
        frame_inds: indices of the frames to return, in any order and with
            repeats allowed; ``None`` returns every frame.

    Returns:
        np.ndarray: ``(N, H, W, 3)`` uint8 RGB, one row per entry of
        ``frame_inds`` (in that order).
    """
    decoded = dict(iter_video_frames(path, frame_inds))
    if frame_inds is None:
        if not decoded:
            raise OSError(f'Video file {path} has no frames')
        return np.stack([decoded[i] for i in range(len(decoded))])
    missing = sorted(set(int(i) for i in frame_inds) - set(decoded))
    if missing:
        num_seen = count_video_frames(path)
        raise IndexError(f'Video file {path} has {num_seen} decodable frames; '
                         f'frame indices {missing[:5]} are out of range')
    if not frame_inds:
        raise ValueError(f'No frame indices requested from {path}')
    return np.stack([decoded[int(i)] for i in frame_inds])


def write_video_file(frames: Iterable[np.ndarray], path: str, fps: float = 10,
                     codec: str = 'libx264') -> None:
    """Encode ``(H, W, 3)`` uint8 RGB frames to a video file (mp4 by default).

    Odd heights or widths are padded by one black row/column, because the
    yuv420p pixel format of H.264 needs even sizes.  Falls back to the
    ``mpeg4`` encoder when ``codec`` is not available in this FFmpeg build.
    """
    import av
    from fractions import Fraction
    frames = [np.asarray(f) for f in frames]
    if not frames:
        raise ValueError(f'No frames to write to {path}')
    height, width = frames[0].shape[:2]
    pad_h, pad_w = height % 2, width % 2
    try:
        av.codec.Codec(codec, 'w')
    except Exception:
        codec = 'mpeg4'
    with av.open(path, mode='w') as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height = width + pad_w, height + pad_h
        stream.pix_fmt = 'yuv420p'
        for frame in frames:
            if frame.shape[:2] != (height, width) or frame.dtype != np.uint8:
                raise ValueError(f'All frames must be ({height}, {width}, 3) uint8; '
                                 f'got {frame.shape} {frame.dtype}')
            frame = np.pad(frame[..., :3], ((0, pad_h), (0, pad_w), (0, 0)))
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format='rgb24')):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
