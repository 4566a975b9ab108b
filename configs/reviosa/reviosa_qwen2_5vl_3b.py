# ReVIOSa with Qwen2.5-VL-3B-Instruct (ViT-675M with 2x2 patch merger + Qwen2.5-3B, LoRA) +
# SAM2.1 Hiera-L on InterRVOS, through transformers' native Qwen2_5_VLForConditionalGeneration.
#
# Weights are read from local folders (nothing is downloaded):
#   pretrained/Qwen2.5-VL-3B-Instruct   the published checkpoint as it is (native HF layout:
#                                       config.json, model-*.safetensors, tokenizer files)
#   pretrained/sam2.1_hiera_large.pt
# Parameter count without reading weights:
# `python tools/analysis_tools/count_params.py configs/reviosa/reviosa_qwen2_5vl_3b.py`
# (mllm: 3,754,622,976, the published size of Qwen2.5-VL-3B; tests/test_models/test_mllm/
# test_qwen2_5_vl.py derives it from the fields of the published config.json).
# Everything not set here (schedule, SAM2 head, losses, runtime) is reviosa_1b.py's: Sa2VA's
# recipe. What differs from InternVL:
# - inputs as Qwen2.5-VL was trained: its chat template (system "You are a helpful assistant.",
#   `<|vision_start|><|image_pad|>*256<|vision_end|>` per frame) and the CLIP statistics of its
#   image processor; frames stay 448 px (32 x 32 patches of 14, merged 2 x 2: 256 tokens), PIL
#   bicubic resizing as Qwen2VLImageProcessor does;
# - the projector (trained) is the vision tower's patch merger; M-RoPE positions come from the
#   model's own get_rope_index.
_base_ = './reviosa_1b.py'

mllm_path = 'pretrained/Qwen2.5-VL-3B-Instruct'
mllm_preset = 'qwen2_5_vl_3b'    # architecture of mllm_path, for count_params on the meta device
chat_format = 'qwen2_5_vl'       # TokenizeConversation: Qwen2.5-VL's published chat template
mllm_size = 448
sam_size = 1024
num_train_frames = 5
num_key_frames = 5
num_image_tokens = 256            # (448 / 14 / 2) ** 2: patches merged 2 x 2
max_context = 128000              # Qwen2.5-VL-3B's max_position_embeddings
max_new_tokens = 32
tokenizer = dict(type='build_role_tokenizer', tokenizer=mllm_path)
# Qwen2VLImageProcessor's image_mean / image_std (OpenAI CLIP), on the 0-255 scale.
clip_mean_255 = [0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255]
clip_std_255 = [0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255]

model = dict(
    mllm=dict(
        _delete_=True,
        type='QwenVLMLLM',
        tokenizer=tokenizer,
        pretrained=mllm_path,
        image_size=mllm_size,
        lora=dict(type='LoraConfig', r=128, lora_alpha=256, lora_dropout=0.05),
        freeze_vision_encoder=True,
        freeze_projector=False,           # the patch merger trains, as InternVL's mlp1
        freeze_llm=True,                  # LoRA + the role-token rows train
        gradient_checkpointing=True,      # use_reentrant=False (needed by the AML)
        attn_implementation='reviosa_sdpa',
        torch_dtype='bfloat16'),
    # Not measured: the last three of the 36 LLM layers, by analogy with the paper's 21-23 of 24.
    # Measure them with
    # `python tools/analysis_tools/select_aml_layers.py configs/reviosa/reviosa_qwen2_5vl_3b.py
    #  --data-root data/interrvos/valid`.
    aml_layers=[33, 34, 35],
    data_preprocessor=dict(type='InterRVOSDataPreprocessor', mllm_mean=clip_mean_255,
                           mllm_std=clip_std_255))

train_pipeline = [
    dict(type='SampleFrames', num_frames=num_train_frames, mode='train'),
    dict(type='LoadVideoFrames'),
    dict(type='LoadRoleMasks'),
    dict(type='ResizeForModels', mllm_size=mllm_size, sam_size=sam_size,
         mllm_interpolation='bicubic', sam_interpolation='bicubic', backend='pillow'),
    dict(type='TokenizeConversation', tokenizer=tokenizer, num_image_tokens=num_image_tokens,
         mode='roles', chat_format=chat_format),
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
         mode='roles', with_answer=False, chat_format=chat_format),
    dict(type='CheckContextLength', max_length=max_context, reserved=max_new_tokens),
    dict(type='PackInterRVOSInputs'),
]
# The base's dataloaders hold the base's pipelines: set them again here.
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
