# ReVIOSa, tiny and randomly initialised, on the synthetic InterShapes benchmark.
# The embedded default of `make demo`: trains on 2 CPU cores in minutes.
#
# The architecture is the real one at toy width: a native InternVL (InternViT-style vision tower
# 64-d x 2 layers, patch 8, pixel shuffle 0.5 -> 16 tokens per 64 px frame; Qwen2 LM 128-d x 3
# layers, 4 query / 2 key-value heads), role tokens projected into the prompt space of a SAM2
# (sam2's PromptEncoder / MaskDecoder / memory modules, with a small conv image encoder in place
# of Hiera, see SAM2Head). Nothing is pretrained, so everything trains (no LoRA, no frozen parts).
#
# Training aids (mmreviosa/models/training_aids, not part of the paper's model; the real-scale
# configs use none) let a decoder and an LLM trained from scratch meet in minutes, measured in
# model-zoo.md: the prompt scales and shifts every decoder input level
# (`SAM2Head(prompt_adapter=dict(type='PromptFeatureModulation'))`), without which the decoder
# hardly learns to follow a *semantic* prompt; and each referent's *visual prompt*, the
# normalised average of SAM2's image embedding inside its GT mask, is decoded as a second prompt
# (`VisualPromptMaskLoss`) and is what the role prompt must pick out among all referents of the
# batch (`VisualPromptAlignLoss`), a direct signal to route the referring words into the role
# token.
#
# One setting per fact:
# - the schedule follows `train_cfg.max_iters` (the cosine's `end` is left to MMEngine, which
#   sets it to the loop's max_iters): `--cfg-options train_cfg.max_iters=2000` changes both;
#   it must exceed the 100-iteration warm-up.
# - `role_mode` decides the model's role tokens and the answers TokenizeConversation writes;
#   configs/reviosa/ablation/reviosa_tiny_single_seg.py shows how a child config changes both.
# Data: `python tools/dataset_converters/make_intershapes.py --out data/intershapes
#        --num-videos 1000 --seed 0` (what `make demo` runs).

# ----------------------------------------------------------------------------- shared settings
default_scope = 'mmreviosa'
data_root = 'data/intershapes'
demo_num_videos = 1000            # training videos `make demo` generates
frame_size = 64                   # InterShapes frames are 64 x 64
num_train_frames = 4              # frames sampled per training item (all seen by the MLLM)
num_key_frames = 4                # frames the MLLM reads at test time
# Expressions of a video per training item (turns of one chat; mmreviosa/datasets/packing.py):
# 3.5 per item on average on InterShapes.
expressions_per_item = 5
num_image_tokens = 16             # (64 / 8) ** 2 patches * 0.5 ** 2 pixel shuffle
max_position_embeddings = 512     # the tiny LLM's positions: longer items are rejected
max_new_tokens = 12               # longest generated answer
tokenizer = dict(type='build_role_tokenizer', tokenizer=dict(type='build_tiny_tokenizer'))
system_prompt = ''                # a randomly initialised model gains nothing from InternVL's
role_mode = 'roles'               # [SEG_ACT] and, with an interaction, [SEG_TAR]

# ----------------------------------------------------------------------------- model
model = dict(
    type='ReVIOSa',
    role_mode=role_mode,
    mllm=dict(
        type='InternVLMLLM',
        tokenizer=tokenizer,
        config=dict(
            vision=dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=128, image_size=[frame_size, frame_size],
                        patch_size=[8, 8]),
            text=dict(hidden_size=128, num_hidden_layers=3, num_attention_heads=4,
                      num_key_value_heads=2, intermediate_size=256,
                      max_position_embeddings=max_position_embeddings),
            downsample_ratio=0.5),
        lora=None,
        freeze_vision_encoder=False,
        freeze_projector=False,
        freeze_llm=False,
        attn_implementation='reviosa_sdpa'),   # sdpa + role-token rows for the AML
    sam2_head=dict(
        type='SAM2Head',
        model_cfg=dict(image_size=frame_size, embed_dim=32, mem_dim=16, backbone_stride=8),
        freeze_image_encoder=False,
        freeze_memory=True,
        use_memory=False,         # memory modules are untrained here: decode each frame
        prompt_adapter=dict(type='PromptFeatureModulation')),  # the prompt modulates features
    # in_dim / out_dim follow the MLLM and the head
    projector=dict(type='RoleTokenProjector', out_norm=True),  # on the visual prompts' scale
    loss_aml=dict(type='AttentionMaskLoss', normalize='frame_sum', loss_weight=1.0),
    aml_layers=[1, 2],            # the last 2 of 3 LLM layers (the paper: 21-23 of 24)
    lm_loss_weight=4.0,           # the role token's hidden state also decides whether a
                                  # [SEG_TAR] follows; the alignment competes for it
    aux_losses=[
        # decode from the referent's pooled SAM2 embedding
        dict(type='VisualPromptMaskLoss', loss_weight=1.0),
        # pull the role prompt towards it: InfoNCE among the batch's referents, centred
        dict(type='VisualPromptAlignLoss', mode='contrastive', loss_weight=1.0),
    ],
    test_cfg=dict(max_new_tokens=max_new_tokens))

# ----------------------------------------------------------------------------- data
train_pipeline = [
    dict(type='SampleFrames', num_frames=num_train_frames, mode='train'),
    dict(type='LoadVideoFrames'),
    dict(type='LoadRoleMasks'),
    dict(type='ResizeForModels', mllm_size=frame_size, sam_size=frame_size, backend='cv2'),
    dict(type='TokenizeConversation', tokenizer=tokenizer, num_image_tokens=num_image_tokens,
         mode=role_mode, system_prompt=system_prompt),
    dict(type='CheckContextLength', max_length=max_position_embeddings),
    dict(type='PackInterRVOSInputs'),
]
test_pipeline = [
    dict(type='SampleFrames', mode='test', num_key_frames=num_key_frames),
    dict(type='LoadVideoFrames'),
    dict(type='LoadRoleMasks'),
    dict(type='ResizeForModels', mllm_size=frame_size, sam_size=frame_size, backend='cv2'),
    dict(type='TokenizeConversation', tokenizer=tokenizer, num_image_tokens=num_image_tokens,
         mode=role_mode, with_answer=False, system_prompt=system_prompt),
    dict(type='CheckContextLength', max_length=max_position_embeddings, reserved=max_new_tokens),
    dict(type='PackInterRVOSInputs'),
]
train_dataloader = dict(
    batch_size=8,                 # items: about 3.5 expressions each (expressions_per_item)
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='InterRVOSDataset', data_root=f'{data_root}/train',
                 pipeline=train_pipeline, expressions_per_item=expressions_per_item))
val_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='InterRVOSDataset', data_root=f'{data_root}/valid',
                 pipeline=test_pipeline, test_mode=True))
test_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='InterRVOSDataset', data_root=f'{data_root}/test',
                 pipeline=test_pipeline, test_mode=True))
val_evaluator = dict(type='InterRVOSMetric')
test_evaluator = dict(type='InterRVOSMetric')

# ----------------------------------------------------------------------------- schedule
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=0.01),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=100),
    # no `end`: MMEngine ends it at train_cfg.max_iters
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, eta_min=1e-5),
]
# The loop validates after its last iteration whatever val_interval is: only then here.
train_cfg = dict(type='IterBasedTrainLoop', max_iters=1000, val_interval=10**9)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# ----------------------------------------------------------------------------- runtime
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=500, max_keep_ckpts=2,
                    save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'))
# Stop at the first non-finite loss or weight, before it is checkpointed (a diverged run would
# otherwise go on with NaN losses and max_keep_ckpts would delete the last finite checkpoints).
custom_hooks = [dict(type='FiniteLossHook')]
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))   # the tools switch to gloo on machines without CUDA
log_processor = dict(by_epoch=False, window_size=50)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
