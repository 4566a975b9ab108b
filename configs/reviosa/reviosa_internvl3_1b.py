# ReVIOSa with InternVL3-1B (InternViT-300M-448px-V2_5 + Qwen2.5-0.5B, LoRA) + SAM2.1 Hiera-L.
#
# Everything but the MLLM is reviosa_1b.py (recipe, SAM2 head, losses, schedule). InternVL3-1B has
# InternVL-2.5-1B's architecture (938.2M parameters), its 448 px / 256-token input and its chat
# template: config.json `template: internvl2_5` with `system_message: null`, i.e. the template's
# own system message, which is TokenizeConversation's default (set nowhere below on purpose).
#
# Weights are read from local folders (nothing is downloaded):
#   pretrained/InternVL3-1B-hf     OpenGVLab/InternVL3-1B-hf, already in the native transformers
#                                  layout (InternVLForConditionalGeneration): no converter
#   pretrained/sam2.1_hiera_large.pt
# Parameter count without reading weights:
#   `python tools/analysis_tools/count_params.py configs/reviosa/reviosa_internvl3_1b.py`
# Train: `bash tools/dist_train.sh configs/reviosa/reviosa_internvl3_1b.py 8`.
_base_ = ['./reviosa_1b.py']

mllm_path = 'pretrained/InternVL3-1B-hf'
mllm_preset = 'internvl3_1b'     # architecture of mllm_path, for count_params on the meta device
# The base's tokenizer, model and pipelines were built from its own mllm_path: each place that
# reads the tokenizer is set again here; the pipelines are reviosa_1b.py's with this tokenizer
# (tests/test_configs/test_internvl3_configs.py checks that they stay so).
tokenizer = dict(type='build_role_tokenizer', tokenizer=mllm_path)
# AML layers: not measured here: no weights. Run
#   `python tools/analysis_tools/select_aml_layers.py configs/reviosa/reviosa_internvl3_1b.py \
#    --data-root data/interrvos/valid`
# and put its layers here. Meanwhile the last three of the LLM's 24 layers (the paper's choice
# for InternVL-2.5-1B, whose LLM this is).
aml_layers = [21, 22, 23]

model = dict(
    mllm=dict(tokenizer=tokenizer, pretrained=mllm_path),
    aml_layers=aml_layers)

train_pipeline = [
    dict(type='SampleFrames', num_frames=5, mode='train'),
    dict(type='LoadVideoFrames'),
    dict(type='LoadRoleMasks'),
    dict(type='ResizeForModels', mllm_size=448, sam_size=1024,
         mllm_interpolation='bicubic', sam_interpolation='bicubic', backend='pillow'),
    dict(type='TokenizeConversation', tokenizer=tokenizer, num_image_tokens=256, mode='roles'),
    dict(type='CheckContextLength', max_length=32768),
    dict(type='PackInterRVOSInputs'),
]
test_pipeline = [
    dict(type='SampleFrames', mode='test', num_key_frames=5),
    dict(type='LoadVideoFrames'),
    dict(type='LoadRoleMasks'),
    dict(type='ResizeForModels', mllm_size=448, sam_size=1024,
         mllm_interpolation='bicubic', sam_interpolation='bicubic', backend='pillow'),
    dict(type='TokenizeConversation', tokenizer=tokenizer,
         num_image_tokens=256, mode='roles', with_answer=False),
    dict(type='CheckContextLength', max_length=32768, reserved=32),
    dict(type='PackInterRVOSInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
