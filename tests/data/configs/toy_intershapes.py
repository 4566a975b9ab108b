# A toy training / testing config for engine tests: the real InterShapes data pipeline with a
# small test double of the model (mmreviosa.testing). Data roots are set by the tests.
default_scope = 'mmreviosa'
custom_imports = dict(imports=['mmreviosa.testing'], allow_failed_imports=False)
data_root = 'data/intershapes'
tokenizer = dict(type='build_role_tokenizer', tokenizer=dict(type='build_tiny_tokenizer'))

model = dict(type='ToySegmentor', channels=4)
train_pipeline = [
    dict(type='SampleFrames', num_frames=2, mode='train'),
    dict(type='LoadVideoFrames'),
    dict(type='LoadRoleMasks'),
    dict(type='ResizeForModels', mllm_size=32, sam_size=32, backend='cv2'),
    dict(type='TokenizeConversation', tokenizer=tokenizer, num_image_tokens=4),
    dict(type='PackInterRVOSInputs'),
]
test_pipeline = [
    dict(type='SampleFrames', mode='test', num_key_frames=2),
    dict(type='LoadVideoFrames'),
    dict(type='LoadRoleMasks'),
    dict(type='ResizeForModels', mllm_size=32, sam_size=32, backend='cv2'),
    dict(type='TokenizeConversation', tokenizer=tokenizer, num_image_tokens=4,
         with_answer=False),
    dict(type='PackInterRVOSInputs'),
]
train_dataloader = dict(
    batch_size=2, num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='InterRVOSDataset', data_root=f'{data_root}/train',
                 pipeline=train_pipeline))
test_dataloader = dict(
    batch_size=2, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='InterRVOSDataset', data_root=f'{data_root}/test',
                 pipeline=test_pipeline, test_mode=True))
test_evaluator = dict(type='InterRVOSMetric')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-2))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=12)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=12)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=1),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
