# ReVIOSa-4B with PyTorch FSDP through MMEngine's FlexibleRunner (multi-GPU / multi-node).
#   bash tools/dist_train.sh configs/reviosa/reviosa_4b_fsdp.py 8
# use_orig_params keeps the frozen and the LoRA parameters of one block in one flat parameter.
_base_ = ['./reviosa_4b.py']

runner_type = 'FlexibleRunner'
strategy = dict(
    type='FSDPStrategy',
    # One full checkpoint file on rank 0 (MMEngine's default, 'local', writes a folder of
    # per-rank shards that only the same FSDP layout can read): tools/test.py reads it.
    state_dict_cfg='full',
    model_wrapper=dict(
        auto_wrap_policy=dict(type='torch.distributed.fsdp.wrap.size_based_auto_wrap_policy',
                              min_num_params=int(1e7)),
        use_orig_params=True))
optim_wrapper = dict(
    type='AmpOptimWrapper',
    dtype='bfloat16',
    accumulative_counts=8,
    optimizer=dict(type='AdamW', lr=4e-5, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=1.0))
