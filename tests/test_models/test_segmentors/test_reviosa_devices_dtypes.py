"""Faults a GPU run would show at its first step, caught on a CPU: where the tensors of
the loss and prediction paths live, and bf16 weights with and without autocast."""
import copy

import pytest
import torch

from mmreviosa.registry import MODELS
from mmreviosa.testing import UnplacedTensorsOn
from mmreviosa.testing.tiny import intershapes_batch, with_real_recipe_freezing

BOTH_ROLES = 'Sure, it is [SEG_ACT] and [SEG_TAR].<|im_end|>'


def _tensors(value):
    """Every tensor in a data sample (its data fields), dict or list."""
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors(v)
    elif hasattr(value, 'all_values'):
        yield from _tensors(list(value.all_values()))


@pytest.mark.parametrize('train', [True, False])
def test_data_samples_follow_the_preprocessor_to_its_device(cfg, split_root, train):
    """DDP does not move data samples: the preprocessor must (the meta device stands in
    for a GPU)."""
    model = MODELS.build(cfg.model)
    preprocessor = model.data_preprocessor.to('meta')
    data = preprocessor(intershapes_batch(cfg, split_root, train=train), train)
    inputs = [t for t in _tensors(data['inputs'])]
    samples = [t for t in _tensors(data['data_samples'])]
    assert samples and all(t.device.type == 'meta' for t in samples)
    assert inputs and all(t.device.type == 'meta' for t in inputs)
    assert data['data_samples'][0].gt_actor_masks.device.type == 'meta'


def test_loss_and_prediction_create_no_tensor_on_the_default_device(cfg, split_root):
    """Tensors our model code makes without ``device=`` go to the meta device here: any
    such tensor meeting the model's would have been a CPU tensor meeting CUDA ones."""
    torch.manual_seed(0)
    model = MODELS.build(with_real_recipe_freezing(cfg.model))
    data = model.data_preprocessor(intershapes_batch(cfg, split_root), True)
    batch = model.data_preprocessor(intershapes_batch(cfg, split_root, train=False), False)
    model.test_cfg['force_answer'] = BOTH_ROLES
    with UnplacedTensorsOn('meta', package='mmreviosa.models.'):
        losses = model(**data, mode='loss')
        sum(losses.values()).backward()
        model.eval()
        samples = model(**batch, mode='predict')
    assert all(v.device.type == 'cpu' and torch.isfinite(v) for v in losses.values())
    assert all(s.pred_actor_masks.device.type == 'cpu' for s in samples)


def test_the_device_check_catches_an_unplaced_tensor():
    def loss_with_unplaced_weights(logits):
        return (logits * torch.ones(logits.shape[0])).sum()

    logits = torch.randn(3)
    with UnplacedTensorsOn('meta', package=__name__):
        with pytest.raises((RuntimeError, NotImplementedError)):
            loss_with_unplaced_weights(logits)
    with UnplacedTensorsOn('meta', package='mmreviosa.models.'):
        assert torch.isfinite(loss_with_unplaced_weights(logits))


def _bf16_model(cfg):
    model_cfg = with_real_recipe_freezing(cfg.model)
    model_cfg.mllm.torch_dtype = 'bfloat16'
    model_cfg.sam2_head.image_encoder_dtype = 'bfloat16'
    torch.manual_seed(0)
    return MODELS.build(model_cfg)


def test_bf16_weights_train_with_float32_trained_parameters(cfg, split_root):
    model = _bf16_model(cfg)
    trained = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert trained and all(p.dtype == torch.float32 for p in trained.values()), \
        {n: p.dtype for n, p in trained.items() if p.dtype != torch.float32}
    frozen_llm = [p for n, p in model.named_parameters()
                  if 'language_model.layers' in n and 'lora_' not in n]
    assert frozen_llm and all(p.dtype == torch.bfloat16 for p in frozen_llm)
    optimizer = torch.optim.AdamW(trained.values(), lr=1e-3)
    data = model.data_preprocessor(intershapes_batch(cfg, split_root), True)
    for autocast in (False, True):
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
            losses = model(**copy.deepcopy(data), mode='loss')
        assert {'loss_lm', 'loss_aml', 'loss_actor_mask'} <= set(losses)
        assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in losses.values())
        before = {n: p.detach().clone() for n, p in trained.items()}
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
        assert any(not torch.equal(before[n], p) for n, p in trained.items())
        assert all(p.dtype == torch.float32 for p in trained.values())


@pytest.mark.parametrize('autocast', [False, True])
def test_bf16_weights_predict_with_and_without_autocast(cfg, split_root, autocast):
    """MMEngine's test loop runs without autocast: bf16 hidden states meet the float32
    role projector and SAM2 decoder."""
    model = _bf16_model(cfg).eval()
    model.test_cfg['force_answer'] = BOTH_ROLES
    batch = intershapes_batch(cfg, split_root, train=False)
    shapes = [tuple(s.ori_shape) for s in batch['data_samples']]
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
        samples = model(**model.data_preprocessor(batch, False), mode='predict')
    for sample, shape in zip(samples, shapes):
        assert sample.pred_actor_masks.dtype == torch.bool
        assert sample.pred_actor_masks.shape[1:] == shape
        assert sample.pred_target_masks.shape == sample.pred_actor_masks.shape


def test_bf16_model_cast_whole_as_deepspeed_does_trains_and_predicts(cfg, split_root):
    """DeepSpeed's bf16 mode casts every module, the float32 trained ones included."""
    model = _bf16_model(cfg).bfloat16()
    data = model.data_preprocessor(intershapes_batch(cfg, split_root), True)
    losses = model(**data, mode='loss')
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    model.eval()
    model.test_cfg['force_answer'] = BOTH_ROLES
    batch = intershapes_batch(cfg, split_root, train=False)
    samples = model(**model.data_preprocessor(batch, False), mode='predict')
    assert all(s.pred_target_masks is not None for s in samples)
