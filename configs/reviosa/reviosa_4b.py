# ReVIOSa-4B: InternVL-2.5-4B (InternViT-300M + Qwen2.5-3B, LoRA) + SAM2.1 Hiera-L on InterRVOS.
#
# Weights are read from local folders (nothing is downloaded):
#   pretrained/InternVL2_5-4B-hf   InternVL-2.5-4B in the native transformers layout; convert the
#                                  published checkpoint with
#                                  `python tools/model_converters/internvl2_5_to_hf.py
#                                   pretrained/InternVL2_5-4B pretrained/InternVL2_5-4B-hf`
#   pretrained/sam2.1_hiera_large.pt
# Data: InterRVOS-format splits under data/interrvos/{train,valid} (see README "Data").
# Train: `bash tools/dist_train.sh configs/reviosa/reviosa_4b.py 8` (DDP); ZeRO-2 / FSDP variants:
# reviosa_1b_zero2.py, reviosa_4b_fsdp.py. Parameter count without reading weights:
# `python tools/analysis_tools/count_params.py configs/reviosa/reviosa_4b.py`.
# Where the paper is silent (loss weights, LoRA rank, learning rate), values follow Sa2VA, whose
# training recipe ReVIOSa extends; the AML weight (1.0) is our choice.
# Precision: frozen weights in bf16 (as Sa2VA loads them); what the optimizer updates (LoRA, the
# role-token rows, the pixel-shuffle MLP, the role projector, SAM2's mask decoder) in float32,
# cast at module boundaries, so `tools/test.py` also runs without autocast.
# Inputs as the published weights were trained: InternVL-2.5's chat template with its system
# message (TokenizeConversation's default) and PIL bicubic resizing (InternVL's transform at 448,
# SAM2's video loader at 1024; OpenCV's bicubic does not antialias when it shrinks).

# ----------------------------------------------------------------------------- shared settings
default_scope = 'mmreviosa'
data_root = 'data/interrvos'
mllm_path = 'pretrained/InternVL2_5-4B-hf'
mllm_preset = 'internvl2_5_4b'   # architecture of mllm_path, for count_params on the meta device
sam2_checkpoint = 'pretrained/sam2.1_hiera_large.pt'
mllm_size = 448                   # InternVL-2.5 input
sam_size = 1024                   # SAM2 input
num_train_frames = 5              # frames per training item, all read by the MLLM (as Sa2VA)
num_key_frames = 5                # frames the MLLM reads at test time; SAM2 memory covers the rest
# Expressions of a video per training item, as Sa2VA packs them: turns of one conversation,
# one MLLM forward and one SAM2 encoding for all (mmreviosa/datasets/packing.py); 1 = one each.
expressions_per_item = 5
num_image_tokens = 256            # (448 / 14) ** 2 * 0.5 ** 2
max_context = 32768               # Qwen2.5's max_position_embeddings
max_new_tokens = 32               # longest generated answer
tokenizer = dict(type='build_role_tokenizer', tokenizer=mllm_path)

# ----------------------------------------------------------------------------- model
model = dict(
    type='ReVIOSa',
    role_mode='roles',
    mllm=dict(
        type='InternVLMLLM',
        tokenizer=tokenizer,
        pretrained=mllm_path,
        lora=dict(type='LoraConfig', r=128, lora_alpha=256, lora_dropout=0.05),
        freeze_vision_encoder=True,
        freeze_projector=False,
        freeze_llm=True,                  # LoRA + the role-token rows train
        gradient_checkpointing=True,      # use_reentrant=False (needed by the AML)
        attn_implementation='reviosa_sdpa',   # 'reviosa_flash_attention_2' with flash_attn
        torch_dtype='bfloat16'),          # trained modules stay float32 (see the top)
    sam2_head=dict(
        type='SAM2Head',
        model_cfg='configs/sam2.1/sam2.1_hiera_l.yaml',
        checkpoint=sam2_checkpoint,
        freeze_image_encoder=True,
        image_encoder_dtype='bfloat16',
        freeze_memory=True,
        # Sa2VA's layout: SAM2's "no click" padding tokens, then the role prompt: the sparse
        # layout the pretrained decoder has seen (the role prompt alone, it has never seen).
        prompt_layout='padded',
        # The decoder's three ambiguity-mask outputs and IoU head get no loss (one role token
        # names one object) and stay frozen at their pretrained values: SAM2's memory tracking
        # picks among them on every frame without a prompt.
        loss_mask=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=True, loss_weight=2.0),
        loss_dice=dict(type='mmdet.DiceLoss', use_sigmoid=True, activate=True, naive_dice=True,
                       eps=1.0, loss_weight=0.5),
        use_memory=True),                 # SAM2's video memory carries the masks at test time
    loss_aml=dict(type='AttentionMaskLoss', normalize='frame_sum', loss_weight=1.0),
    # Reused without measurement from the paper's analysis of InternVL-2.5-1B (its 24-layer
    # LLM); no 4B weights are here to measure it. With them:
    # python tools/analysis_tools/select_aml_layers.py configs/reviosa/reviosa_4b.py \
    #     --data-root data/interrvos/valid --query phrase
    aml_layers=[21, 22, 23],          # the paper's layers (the 4B LLM has 36; configurable)
    lm_loss_weight=1.0,
    test_cfg=dict(max_new_tokens=max_new_tokens))

# ----------------------------------------------------------------------------- data
train_pipeline = [
    dict(type='SampleFrames', num_frames=num_train_frames, mode='train'),
    dict(type='LoadVideoFrames'),
    dict(type='LoadRoleMasks'),
    dict(type='ResizeForModels', mllm_size=mllm_size, sam_size=sam_size,
         mllm_interpolation='bicubic', sam_interpolation='bicubic', backend='pillow'),
    dict(type='TokenizeConversation', tokenizer=tokenizer, num_image_tokens=num_image_tokens,
         mode='roles'),
    dict(type='CheckContextLength', max_length=max_context),
    dict(type='PackInterRVOSInputs'),
]
test_pipeline = [
    dict(type='SampleFrames', mode='test', num_key_frames=num_key_frames),
    dict(type='LoadVideoFrames'),
    dict(type='LoadRoleMasks'),
    dict(type='ResizeForModels', mllm_size=mllm_size, sam_size=sam_size,
         mllm_interpolation='bicubic', sam_interpolation='bicubic', backend='pillow'),
    dict(type='TokenizeConversation', tokenizer=tokenizer, num_image_tokens=num_image_tokens,
         mode='roles', with_answer=False),
    dict(type='CheckContextLength', max_length=max_context, reserved=max_new_tokens),
    dict(type='PackInterRVOSInputs'),
]
train_dataloader = dict(
    batch_size=1,                 # items: up to expressions_per_item expressions
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='InterRVOSDataset', data_root=f'{data_root}/train',
                 pipeline=train_pipeline, expressions_per_item=expressions_per_item))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='InterRVOSDataset', data_root=f'{data_root}/valid',
                 pipeline=test_pipeline, test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='InterRVOSMetric')
test_evaluator = val_evaluator

# ----------------------------------------------------------------------------- schedule
max_epochs = 10
optim_wrapper = dict(
    type='AmpOptimWrapper',
    dtype='bfloat16',
    accumulative_counts=8,            # 8 GPUs x 1 x 8 = 64 items per step
    optimizer=dict(type='AdamW', lr=4e-5, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    # 5% of the first epoch, at least one iteration however small the training set
    dict(type='WarmupLinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=0.05,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0.0, by_epoch=True, begin=0.05, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# ----------------------------------------------------------------------------- runtime
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'))
# Stop at the first non-finite loss or weight, naming the iteration and the losses, before a
# checkpoint is written (the last finite one is kept).
custom_hooks = [dict(type='FiniteLossHook')]
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
log_processor = dict(by_epoch=True, window_size=10)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
