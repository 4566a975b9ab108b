# Minimal InterRVOS data config (data only) for the browse_dataset tests.
default_scope = 'mmreviosa'
data_root = 'tests/data/mevis_tiny/train'
tokenizer = dict(type='build_role_tokenizer', tokenizer=dict(type='build_tiny_tokenizer'))

train_pipeline = [
    dict(type='SampleFrames', num_frames=2, mode='train'),
    dict(type='LoadVideoFrames'),
    dict(type='LoadRoleMasks'),
    dict(type='ResizeForModels', mllm_size=64, sam_size=64),
    dict(type='TokenizeConversation', tokenizer=tokenizer, num_image_tokens=16),
    dict(type='PackInterRVOSInputs'),
]
test_pipeline = [
    dict(type='SampleFrames', mode='test', num_key_frames=4),
    dict(type='LoadVideoFrames'),
    dict(type='LoadRoleMasks'),
    dict(type='ResizeForModels', mllm_size=64, sam_size=64),
    dict(type='TokenizeConversation', tokenizer=tokenizer, num_image_tokens=16,
         with_answer=False),
    dict(type='PackInterRVOSInputs'),
]
train_dataloader = dict(
    batch_size=2, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='InterRVOSDataset', data_root=data_root, layout='mevis',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='InterRVOSDataset', data_root=data_root, layout='mevis',
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
