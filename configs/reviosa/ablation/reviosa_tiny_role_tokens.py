# Ablation (ii): role tokens ([SEG_ACT] / [SEG_TAR]) without the Attention Mask Loss.
_base_ = ['../reviosa_tiny_intershapes.py']

model = dict(loss_aml=None, aml_layers=None)
