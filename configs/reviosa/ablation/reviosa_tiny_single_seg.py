# Ablation (i): the single-[SEG] baseline. One token segments the referred object (the actor);
# no target, no Attention Mask Loss. Otherwise identical to reviosa_tiny_intershapes.py.
_base_ = ['../reviosa_tiny_intershapes.py']

model = dict(role_mode='single', loss_aml=None, aml_layers=None)
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
         num_image_tokens={{_base_.num_image_tokens}}, mode='single', with_answer=False,
         system_prompt={{_base_.system_prompt}}),
    dict(type='CheckContextLength', max_length={{_base_.max_position_embeddings}},
         reserved={{_base_.max_new_tokens}}),
    dict(type='PackInterRVOSInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
