# The data config of the browse_dataset tests: the toy config's pipelines (browse_dataset stops
# them before ResizeForModels) on the MeViS fixture.
_base_ = ['./toy_intershapes.py']
data_root = 'tests/data/mevis_tiny/train'
train_dataloader = dict(dataset=dict(data_root=data_root, layout='mevis'))
val_dataloader = dict(
    batch_size=1, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='InterRVOSDataset', data_root=data_root, layout='mevis',
                 test_mode=True, pipeline={{_base_.test_pipeline}}))
test_dataloader = dict(dataset=dict(data_root=data_root, layout='mevis'))
