# Ablation (i): the single-[SEG] baseline. One token segments the referred object (the actor);
# no target, no Attention Mask Loss. Otherwise identical to reviosa_tiny_intershapes.py.
#
# `role_mode` is set in the model and in the answers the pipelines tokenise. A child config
# cannot change a variable inside the base's already-built dicts, so both pipelines are the
# base's with TokenizeConversation's mode replaced (`_base_` is the base config here).
_base_ = ['../reviosa_tiny_intershapes.py']

role_mode = 'single'
model = dict(role_mode=role_mode, loss_aml=None, aml_layers=None)
train_pipeline = [dict(t, mode=role_mode) if t.type == 'TokenizeConversation' else t
                  for t in _base_.train_pipeline]
test_pipeline = [dict(t, mode=role_mode) if t.type == 'TokenizeConversation' else t
                 for t in _base_.test_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
