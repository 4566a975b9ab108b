"""Visual prompts: mask-pooled SAM2 embeddings."""
import torch

from mmreviosa.models.training_aids import mask_pooled_features


def test_mask_pooled_features_by_hand():
    features = torch.randn(2, 5, 2, 2)  # N=2 frames, C=5, a 2 x 2 grid
    masks = torch.zeros(2, 2, 4, 4)      # R=2 roles at 4 x 4: each cell is 2 x 2 pixels
    masks[0, 0, :2, :2] = 1              # the whole top-left cell
    masks[0, 0, 2, 2] = 1                # and a quarter of the bottom-right one
    masks[1, 0, :, 2:] = 1               # the right column
    # masks[0, 1] and masks[1, 1] are empty
    pooled, present = mask_pooled_features(features, masks)
    f = features
    raw = [(f[0, :, 0, 0] + 0.25 * f[0, :, 1, 1]) / 1.25, (f[1, :, 0, 1] + f[1, :, 1, 1]) / 2]
    for (n, r), vector in zip([(0, 0), (1, 0)], raw):
        expected = (vector - vector.mean()) / torch.sqrt(vector.var(unbiased=False) + 1e-5)
        assert torch.allclose(pooled[n, r], expected, atol=1e-5)
    assert present.tolist() == [[True, False], [True, False]]
    assert pooled[:, 1].abs().sum() == 0
