# Ablation (iv): role tokens + Attention Mask Loss, i.e. full ReVIOSa. The same model as the
# embedded default; kept here so that the four ablation rows have one folder.
_base_ = ['../reviosa_tiny_intershapes.py']
