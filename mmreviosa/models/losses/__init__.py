from .attention_mask_loss import AttentionMaskLoss

__all__ = ['AttentionMaskLoss']
