# ReVIOSa-1B with DeepSpeed ZeRO-2 through MMEngine's FlexibleRunner (multi-GPU / multi-node).
# Needs DeepSpeed: `make install` puts it in .venv; into another environment:
#   DS_BUILD_OPS=0 pip install --no-build-isolation -r requirements/deepspeed.txt
# Checkpoints are folders (epoch_N.pth/); tools/test.py and init_model read them. Launch as usual:
#   bash tools/dist_train.sh configs/reviosa/reviosa_1b_zero2.py 8
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=host0 \
#       bash tools/dist_train.sh configs/reviosa/reviosa_1b_zero2.py 8
_base_ = ['./reviosa_1b.py']

runner_type = 'FlexibleRunner'
strategy = dict(
    type='DeepSpeedStrategy',
    fp16=dict(enabled=False),
    bf16=dict(enabled=True),
    zero_optimization=dict(
        stage=2, allgather_partitions=True, reduce_scatter=True, allgather_bucket_size=5e7,
        reduce_bucket_size=5e7, overlap_comm=True, contiguous_gradients=True,
        cpu_offload=False),
    gradient_clipping=1.0,
    gradient_accumulation_steps=4)
optim_wrapper = dict(
    _delete_=True,
    type='DeepSpeedOptimWrapper',
    optimizer=dict(type='AdamW', lr=4e-5, betas=(0.9, 0.999), weight_decay=0.05))
