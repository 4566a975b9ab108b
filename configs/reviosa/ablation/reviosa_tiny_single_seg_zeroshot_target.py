# Zero-shot target probing (the paper's ablation row): the single-[SEG] model of ablation (i),
# asked for the object the expression acts upon; its mask is scored as the target. Use with the
# checkpoint of reviosa_tiny_single_seg.py (tools/analysis_tools/run_ablation.py does).
# role_mode reaches the model and the pipelines as in reviosa_tiny_single_seg.py; the test
# questions ask for the target ('single_target').
_base_ = ['../reviosa_tiny_intershapes.py']

role_mode = 'single'
model = dict(role_mode=role_mode, loss_aml=None, aml_layers=None,
             test_cfg=dict(single_mask_as='target'))
train_pipeline = [dict(t, mode=role_mode) if t.type == 'TokenizeConversation' else t
                  for t in _base_.train_pipeline]
test_pipeline = [dict(t, mode='single_target') if t.type == 'TokenizeConversation' else t
                 for t in _base_.test_pipeline]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
