"""The boundary matching radius and disk of DAVIS ``f_measure``."""
import functools
from typing import Optional, Tuple

import numpy as np


@functools.lru_cache(maxsize=None)
def boundary_radius(height: int, width: int, bound_th: float) -> float:
    """Matching radius in pixels, as DAVIS ``f_measure`` computes it.

    Args:
        height: frame height H.
        width: frame width W.
        bound_th: a fraction of the diagonal when below 1, else pixels.

    Returns:
        float: ``bound_th`` if ``bound_th >= 1`` else
        ``ceil(bound_th * sqrt(H**2 + W**2))``.
    """
    if bound_th >= 1:
        return bound_th
    return float(np.ceil(bound_th * np.linalg.norm((height, width))))


@functools.lru_cache(maxsize=None)
def disk_kernel(radius: float) -> np.ndarray:
    """Disk structuring element identical to ``skimage.morphology.disk``.

    Built once per radius (cached), without scikit-image.

    Args:
        radius: the radius (integer or not, as in scikit-image).

    Returns:
        np.ndarray: ``(K, K)`` uint8 with 1 where ``x**2 + y**2 <= r**2``
        for the offsets ``arange(-r, r + 1)``; read-only.
    """
    offsets = np.arange(-radius, radius + 1)
    cols, rows = np.meshgrid(offsets, offsets)
    kernel = (cols**2 + rows**2 <= radius**2).astype(np.uint8)
    kernel.setflags(write=False)
    return kernel


@functools.lru_cache(maxsize=None)
def disk_half_widths(radius: float) -> Optional[Tuple[int, ...]]:
    """Row half-widths of the disk, for the decomposed packed dilation.

    Args:
        radius: the disk radius.

    Returns:
        tuple[int, ...] | None: ``half_widths[k]`` is the half-width of the
        rows ``k`` above and below the centre (``r + 1`` values), or None for
        kernels that are not an odd-sized, centred, convex disk (e.g. a
        non-integer radius given as ``bound_th >= 1``), which then take the
        plain ``cv2.dilate`` path.
    """
    kernel = disk_kernel(radius)
    size = kernel.shape[0]
    if size % 2 == 0:
        return None
    centre = size // 2
    half_widths = []
    for row in kernel[centre:]:
        columns = np.flatnonzero(row)
        if columns.size == 0:
            return None
        left, right = centre - columns[0], columns[-1] - centre
        if left != right or columns.size != left + right + 1:
            return None
        half_widths.append(int(left))
    if not np.array_equal(kernel, kernel[::-1]) or any(
            inner < outer
            for inner, outer in zip(half_widths, half_widths[1:])):
        return None
    return tuple(half_widths)
