"""A training-free referring-VOS baseline: the pixels of the colour the expression names.

This module stands for "another project": it imports nothing from mmreviosa and
registers its model in MMEngine's own ``MODELS`` registry, yet it consumes the
items packed by ``mmreviosa.PackInterRVOSInputs`` and fills the prediction
fields ``mmreviosa.InterRVOSMetric`` reads.

``ColourPriorRVOS`` finds the colour word of the expression's subject ("the
*red* circle pushing the blue square" -> red) and predicts, in every frame, the
pixels whose RGB lies within ``max_distance`` of that colour. It knows nothing
of motion or of roles: it never predicts a target (``pred_target_masks`` is
None, which the metric scores as an empty target mask), and every look-alike of
the actor's colour is included in the actor mask.
"""
import re
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.registry import MODELS

#: A plain palette, used when no ``colours`` are given (RGB, 0-255).
BASIC_COLOURS = {
    'red': (220, 30, 30), 'green': (30, 170, 50), 'blue': (30, 70, 230),
    'yellow': (240, 215, 30), 'purple': (160, 50, 200), 'orange': (245, 140, 20),
    'white': (245, 245, 245), 'black': (15, 15, 15)}


def subject_colour(expression: str, colours: Sequence[str],
                   nouns: Optional[Sequence[str]] = None) -> Optional[str]:
    """The colour word of an expression's subject, or None.

    The subject of a referring expression comes first, so its colour is the
    first colour word, provided it precedes the first noun of ``nouns`` (the
    subject's head); a colour after that noun belongs to another object ("the
    square pushing the *red* circle") and is not the subject's.

    Args:
        expression: the referring expression.
        colours: the colour words to look for.
        nouns: words that end the subject's noun phrase; None: no limit.

    Returns:
        str | None: the colour word, lower case.
    """
    colour_set = {c.lower() for c in colours}
    noun_set = {n.lower() for n in nouns or ()}
    for word in re.findall(r'[a-z]+', expression.lower()):
        if word in colour_set:
            return word
        if word in noun_set:
            return None
    return None


def colour_mask(pixels: torch.Tensor, rgb: Sequence[float], max_distance: float
                ) -> torch.Tensor:
    """Pixels whose RGB is within ``max_distance`` (Euclidean) of ``rgb``.

    Args:
        pixels: (T, 3, H, W) RGB, any real dtype, 0-255.
        rgb: the reference colour, 3 values in 0-255.
        max_distance: the largest distance counted as the colour.

    Returns:
        Tensor: (T, H, W) bool.
    """
    assert pixels.dim() == 4 and pixels.shape[1] == 3, (
        f'pixels must be (T, 3, H, W), got {tuple(pixels.shape)}')
    reference = torch.tensor(rgb, dtype=torch.float32, device=pixels.device).view(1, 3, 1, 1)
    distance = (pixels.float() - reference).square().sum(dim=1).sqrt()
    return distance <= max_distance


@MODELS.register_module()
class ColourPriorRVOS(BaseModel):
    """Segment the pixels of the subject's colour in every frame.

    Inputs are what ``mmreviosa.PackInterRVOSInputs`` packs, passed through
    ``pseudo_collate`` and MMEngine's ``BaseDataPreprocessor`` (which keeps
    the uint8 pixels): ``inputs['sam_pixels']`` is one (T, 3, S, S) uint8 RGB
    tensor per item (the frames resized to S x S); the data samples carry
    ``expression`` and ``ori_shape`` (H, W) in their metainfo. The mask is
    computed at S x S and resized (nearest) to ``ori_shape``. An expression
    whose subject names no known colour gets an empty actor mask.

    Args:
        colours: colour word -> RGB (0-255). Default: ``BASIC_COLOURS``.
        nouns: words that end the subject's noun phrase (see
            :func:`subject_colour`); None: the first colour word anywhere.
        max_distance: RGB distance within which a pixel has the colour.
        pixel_key: the key of ``inputs`` holding the frames.
        data_preprocessor: config of the data preprocessor; MMEngine's
            ``BaseDataPreprocessor`` by default.
    """

    def __init__(self,
                 colours: Optional[Dict[str, Sequence[float]]] = None,
                 nouns: Optional[Sequence[str]] = None,
                 max_distance: float = 60.0,
                 pixel_key: str = 'sam_pixels',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        colours = dict(BASIC_COLOURS if colours is None else colours)
        for word, rgb in colours.items():
            if len(rgb) != 3:
                raise ValueError(f'colour {word!r} must be 3 RGB values, got {rgb!r}')
        if max_distance <= 0:
            raise ValueError(f'max_distance must be > 0, got {max_distance}')
        self.colours = {word.lower(): tuple(float(v) for v in rgb)
                        for word, rgb in colours.items()}
        self.nouns = tuple(nouns) if nouns is not None else None
        self.max_distance = float(max_distance)
        self.pixel_key = pixel_key

    def _frames_per_item(self, inputs) -> List[torch.Tensor]:
        # pseudo_collate turns the list of per-item dicts into a dict of lists.
        if isinstance(inputs, dict):
            if self.pixel_key not in inputs:
                raise KeyError(f'inputs have no {self.pixel_key!r} (keys: {sorted(inputs)})')
            return list(inputs[self.pixel_key])
        return [item[self.pixel_key] for item in inputs]

    def predict_masks(self, frames: torch.Tensor, expression: str,
                      ori_shape: Tuple[int, int]) -> Tuple[torch.Tensor, Optional[str]]:
        """Masks of one item.

        Args:
            frames: (T, 3, S, S) RGB, 0-255.
            expression: the referring expression.
            ori_shape: (H, W) of the output masks.

        Returns:
            tuple: (T, H, W) bool actor masks, and the colour word used (None
            when the subject names no known colour).
        """
        colour = subject_colour(expression, list(self.colours), self.nouns)
        num_frames = frames.shape[0]
        if colour is None:
            return torch.zeros((num_frames, *ori_shape), dtype=torch.bool), None
        masks = colour_mask(frames, self.colours[colour], self.max_distance)
        if tuple(masks.shape[-2:]) != tuple(ori_shape):
            masks = F.interpolate(masks[:, None].float(), size=tuple(ori_shape),
                                  mode='nearest')[:, 0] > 0.5
        return masks.cpu(), colour

    def forward(self, inputs, data_samples=None, mode: str = 'predict'):
        """Predict (the only mode: the model has nothing to train).

        Args:
            inputs: dict of lists (or list of dicts) with ``pixel_key``.
            data_samples: ``InterRVOSDataSample`` (or any ``BaseDataElement``
                with ``expression`` and ``ori_shape`` metainfo), one per item.
            mode: must be 'predict'.

        Returns:
            list: the data samples with ``pred_actor_masks`` (T, H, W) bool,
            ``pred_target_masks`` None and ``pred_text``.
        """
        if mode != 'predict':
            raise RuntimeError(f'ColourPriorRVOS is training-free: mode {mode!r} is not '
                               "supported, only 'predict'")
        frames_per_item = self._frames_per_item(inputs)
        if data_samples is None or len(data_samples) != len(frames_per_item):
            raise ValueError(f'{len(frames_per_item)} items need as many data samples, got '
                             f'{None if data_samples is None else len(data_samples)}')
        for frames, sample in zip(frames_per_item, data_samples):
            actor_masks, colour = self.predict_masks(frames, sample.expression,
                                                     tuple(sample.ori_shape))
            sample.pred_actor_masks = actor_masks
            sample.pred_target_masks = None  # blind to roles: never a target
            sample.pred_text = f'the {colour} pixels' if colour else 'no colour named'
        return data_samples
