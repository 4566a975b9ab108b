# A plain-MMEngine project that borrows mmreviosa's data pipeline and metric.
#
# The scope stays MMEngine's: the runner, loops and `ColourPriorRVOS` (registered in MMEngine's
# MODELS by projects/rvos_metric_in_mmengine/colour_prior.py) resolve there, and every mmreviosa
# component is named with the `mmreviosa.` prefix. Run from the repository root (so that
# `projects.` is importable); see the README next to this folder.
default_scope = 'mmengine'
custom_imports = dict(
    imports=['mmreviosa', 'projects.rvos_metric_in_mmengine.colour_prior'],
    allow_failed_imports=False)

data_root = 'data/intershapes/test'   # a split folder in the MeViS / InterRVOS format
frame_size = 64                       # InterShapes frames are 64 x 64

# ----------------------------------------------------------------------------- model
model = dict(
    type='ColourPriorRVOS',
    # The fill colours of InterShapes (mmreviosa.builders.intershapes.COLORS): shapes are drawn
    # with these plus up to +-15 per channel and sensor noise, so 60 keeps them apart from each
    # other and from the grey background.
    colours=dict(red=(225, 35, 35), green=(35, 185, 55), blue=(40, 75, 235),
                 yellow=(240, 215, 30), purple=(165, 55, 205)),
    nouns=('circle', 'square', 'triangle', 'star'),   # the subject's colour comes before these
    max_distance=60.0,
    data_preprocessor=dict(type='BaseDataPreprocessor'))   # keeps the uint8 RGB as it is

# ----------------------------------------------------------------------------- data
# PackInterRVOSInputs needs token ids, so the pipeline tokenizes the chat prompt with the tiny
# in-process tokenizer; this model ignores them (and `mllm_pixels`).
tokenizer = dict(type='mmreviosa.build_role_tokenizer',
                 tokenizer=dict(type='mmreviosa.build_tiny_tokenizer'))
test_pipeline = [
    dict(type='mmreviosa.SampleFrames', mode='test', num_key_frames=1),
    dict(type='mmreviosa.LoadVideoFrames'),
    dict(type='mmreviosa.LoadRoleMasks'),
    # sam_size = the frame size: the colour test runs on the original pixels.
    dict(type='mmreviosa.ResizeForModels', mllm_size=frame_size, sam_size=frame_size,
         backend='cv2'),
    dict(type='mmreviosa.TokenizeConversation', tokenizer=tokenizer, num_image_tokens=1,
         with_answer=False),
    dict(type='mmreviosa.PackInterRVOSInputs'),
]
test_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='mmreviosa.InterRVOSDataset', data_root=data_root,
                 pipeline=test_pipeline, test_mode=True))
test_evaluator = dict(type='mmreviosa.InterRVOSMetric')   # DAVIS J&F per role, in percent
test_cfg = dict(type='TestLoop')

# ----------------------------------------------------------------------------- runtime
work_dir = 'work_dirs/colour_prior_intershapes'
default_hooks = dict(logger=dict(type='LoggerHook', interval=10))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
log_level = 'INFO'
randomness = dict(seed=0)
