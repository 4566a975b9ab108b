"""Registries of mmreviosa.

Every registry is a child of the MMEngine root registry of the same kind, so a
config of any OpenMMLab project can build our components once they are imported
(``custom_imports=dict(imports=['mmreviosa'])``) with ``type='mmreviosa.X'`` or,
inside our default scope, ``type='X'``.  ``locations`` lets ``MODELS.build`` find
a class without the caller importing its module first: it names the package
whose import registers the members (and :func:`mmreviosa.utils.register_all_modules`
imports exactly these packages).

Registries without ``locations`` hold nothing of ours: they exist because MMEngine's
runner builds through the default scope's child registry (``Failed to search
registry with scope "mmreviosa"`` otherwise) and falls through to MMEngine's own
members (``IterBasedTrainLoop``, ``AdamW``, ``LocalVisBackend``...).
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import \
    WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

__all__ = [
    'RUNNERS', 'LOOPS', 'HOOKS', 'LOG_PROCESSORS', 'OPTIMIZERS', 'OPTIM_WRAPPERS',
    'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS',
    'MODELS', 'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'TOKENIZERS', 'METRICS', 'EVALUATORS',
    'VISUALIZERS', 'VISBACKENDS', 'FUNCTIONS'
]

# Runners, loops and hooks (training engine)
RUNNERS = Registry('runner', parent=MMENGINE_RUNNERS)
LOOPS = Registry('loop', parent=MMENGINE_LOOPS)
# FiniteLossHook
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, locations=['mmreviosa.engine'])
LOG_PROCESSORS = Registry('log processor', parent=MMENGINE_LOG_PROCESSORS)
OPTIMIZERS = Registry('optimizer', parent=MMENGINE_OPTIMIZERS)
OPTIM_WRAPPERS = Registry('optim wrapper', parent=MMENGINE_OPTIM_WRAPPERS)
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor', parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS)
# WarmupLinearLR
PARAM_SCHEDULERS = Registry(
    'parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS, locations=['mmreviosa.engine'])

# Data: InterRVOSDataset and its transforms (loading, sampling, tokenization, packing)
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, locations=['mmreviosa.datasets'])
DATA_SAMPLERS = Registry('data sampler', parent=MMENGINE_DATA_SAMPLERS)
TRANSFORMS = Registry(
    'transform', parent=MMENGINE_TRANSFORMS, locations=['mmreviosa.datasets.transforms'])
# Collate functions and other callables referenced from configs (MMEngine's own:
# `pseudo_collate`, `default_collate`)
FUNCTIONS = Registry('function', parent=MMENGINE_FUNCTIONS)

# Models: segmentors, MLLM wrappers, SAM2 heads, losses, data preprocessors
MODELS = Registry('model', parent=MMENGINE_MODELS, locations=['mmreviosa.models'])
# CPUDistributedDataParallel (distributed runs without GPUs)
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMENGINE_MODEL_WRAPPERS, locations=['mmreviosa.engine'])
WEIGHT_INITIALIZERS = Registry('weight initializer', parent=MMENGINE_WEIGHT_INITIALIZERS)
# Tokenizers (with the role tokens added) shared by the data pipeline and the model
TOKENIZERS = Registry('tokenizer', locations=['mmreviosa.text'])

# Evaluation: InterRVOSMetric
METRICS = Registry('metric', parent=MMENGINE_METRICS, locations=['mmreviosa.evaluation'])
EVALUATORS = Registry('evaluator', parent=MMENGINE_EVALUATOR)

# Visualization (the overlay writers are plain functions; MMEngine's visualizer is used)
VISUALIZERS = Registry('visualizer', parent=MMENGINE_VISUALIZERS)
VISBACKENDS = Registry('vis_backend', parent=MMENGINE_VISBACKENDS)
