from .attention_mask_loss import AttentionMaskLoss
from .prompt_alignment import centred_info_nce

__all__ = ['AttentionMaskLoss', 'centred_info_nce']
