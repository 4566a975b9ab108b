# The tiny ReVIOSa with attention point prompts, trained 3x longer (3000 iterations, about
# 25 minutes on 2 CPU cores): what the tiny model reaches when given the time.
#
# A SAM2 decoder trained from scratch follows a location within a few hundred steps but a
# semantic prompt only after thousands (benchmarks/bench_prompt_learnability.py). So each
# role's prompt also gets SAM's point embedding at the soft-argmax of the role token's
# attention over each key frame (the attention the AML trains, layers `aml_layers`), and a
# second decode from the GT-mask centroid (`point_aux_weight`) teaches the decoder to follow
# points while the attention is still finding the object. At 1000 iterations
# this costs ~25% more time per step and does not pay off yet; at 3000 iterations it does
# (model-zoo.md: test actor J&F 38.6 vs 30.5 without, mean of two seeds).
#
# This recipe predates the prompt FiLM and the visual-prompt losses of the default tiny config,
# which reach more in a third of the time (model-zoo.md); they are switched off here so that
# the numbers above still reproduce.
_base_ = ['./reviosa_tiny_intershapes.py']

model = dict(
    sam2_head=dict(point_prompts=True, prompt_film=False),
    projector=dict(out_norm=False),
    point_prompts=True,
    point_aux_weight=1.0,
    visual_aux_weight=0.0,
    visual_align_weight=0.0)

max_iters = 3000
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=max_iters, eta_min=1e-5),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters + 1)
default_hooks = dict(checkpoint=dict(interval=1000, max_keep_ckpts=3))
