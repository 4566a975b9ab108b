# Zero-shot target probing (the paper's ablation row): the single-[SEG] model of ablation (i),
# asked for the object the expression acts upon; its mask is scored as the target. Use with the
# checkpoint of reviosa_tiny_single_seg.py (tools/analysis_tools/run_ablation.py does).
_base_ = ['../reviosa_tiny_intershapes.py']

model = dict(role_mode='single', loss_aml=None, aml_layers=None,
             test_cfg=dict(single_mask_as='target'))
train_pipeline = [
    dict(type='SampleFrames', num_frames={{_base_.num_train_frames}}, mode='train'),
    dict(type='LoadVideoFrames'),
    dict(type='LoadRoleMasks'),
    dict(type='ResizeForModels', mllm_size={{_base_.frame_size}}, sam_size={{_base_.frame_size}},
         backend='cv2'),
    dict(type='TokenizeConversation', tokenizer={{_base_.tokenizer}},
         num_image_tokens={{_base_.num_image_tokens}}, mode='single',
         system_prompt={{_base_.system_prompt}}),
    dict(type='CheckContextLength', max_length={{_base_.max_position_embeddings}}),
    dict(type='PackInterRVOSInputs'),
]
test_pipeline = [
    dict(type='SampleFrames', mode='test', num_key_frames={{_base_.num_key_frames}}),
    dict(type='LoadVideoFrames'),
    dict(type='LoadRoleMasks'),
    dict(type='ResizeForModels', mllm_size={{_base_.frame_size}}, sam_size={{_base_.frame_size}},
         backend='cv2'),
    dict(type='TokenizeConversation', tokenizer={{_base_.tokenizer}},
         num_image_tokens={{_base_.num_image_tokens}}, mode='single_target', with_answer=False,
         system_prompt={{_base_.system_prompt}}),
    dict(type='CheckContextLength', max_length={{_base_.max_position_embeddings}},
         reserved={{_base_.max_new_tokens}}),
    dict(type='PackInterRVOSInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
