# The toy config with the deterministic GT-plus-noise model: tests the metric and its gathering.
_base_ = ['./toy_intershapes.py']

model = dict(_delete_=True, type='GTNoiseSegmentor', flip_prob=0.1, drop_target_prob=0.2)
