# Ablation (iii): the single-[SEG] baseline with the Attention Mask Loss on its [SEG] token
# (supervised with the actor mask). Otherwise identical to reviosa_tiny_intershapes.py.
# role_mode reaches the model and the pipelines as in reviosa_tiny_single_seg.py.
_base_ = ['../reviosa_tiny_intershapes.py']

role_mode = 'single'
model = dict(role_mode=role_mode)
train_pipeline = [dict(t, mode=role_mode) if t.type == 'TokenizeConversation' else t
                  for t in _base_.train_pipeline]
test_pipeline = [dict(t, mode=role_mode) if t.type == 'TokenizeConversation' else t
                 for t in _base_.test_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
