"""The InternVL3 configs: the published sizes on the meta device, reviosa_1b.py's pipelines with
their own tokenizer, and the chat InternVL3 was trained with (its config.json `template` is
'internvl2_5' with `system_message: null`)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmreviosa.testing import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(ROOT, 'configs', 'reviosa')
# name: (mllm_path, exact MLLM parameters worked out by hand, LLM layers)
INTERNVL3 = {
    'reviosa_internvl3_1b.py': ('pretrained/InternVL3-1B-hf', 938_193_024, 24),
    'reviosa_internvl3_2b.py': ('pretrained/InternVL3-2B-hf', 2_088_957_440, 28),
}

# InternVL's conversation.py, template 'internvl2_5' (MPT separator style), verbatim.
INTERNVL2_5_SYSTEM = ('你是书生·万象，英文名是InternVL，是由上海人工智能实验室、清华大学及多家合作单位联合'
                      '开发的多模态大语言模型。')


def render_internvl2_5(user_message: str) -> str:
    """The prompt InternVL's Conversation('internvl2_5').get_prompt() writes for one user turn
    followed by an empty assistant turn (system_template '<|im_start|>system\\n{system_message}',
    roles '<|im_start|>user\\n' / '<|im_start|>assistant\\n', sep '<|im_end|>\\n')."""
    sep = '<|im_end|>\n'
    return (f'<|im_start|>system\n{INTERNVL2_5_SYSTEM}' + sep + '<|im_start|>user\n'
            + user_message + sep + '<|im_start|>assistant\n')


@pytest.mark.parametrize('name', sorted(INTERNVL3))
def test_internvl3_parameter_counts_on_meta(name):
    count_params = load_tool('tools/analysis_tools/count_params.py')
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    _, exact, num_layers = INTERNVL3[name]
    from mmreviosa.registry import MODELS
    init_default_scope('mmreviosa')
    with torch.device('meta'):
        model = MODELS.build(count_params.meta_model_cfg(cfg))
    assert count_params.count(model.mllm, exclude=('lora_', 'trainable_tokens_')) == exact
    assert model.mllm.model.config.text_config.num_hidden_layers == num_layers
    # Until select_aml_layers.py is run on the weights: the last three layers.
    assert list(model.aml_layers) == [num_layers - 3, num_layers - 2, num_layers - 1]
    assert not any('lora_' in n for n, _ in model.mllm.vision_model.named_parameters())
    assert any('lora_' in n for n, _ in model.mllm.language_model.named_parameters())


def _without_tokenizer(pipeline):
    return [{k: v for k, v in step.items() if k != 'tokenizer'} for step in pipeline]


@pytest.mark.parametrize('name', sorted(INTERNVL3))
def test_internvl3_configs_read_their_own_folder_everywhere(name):
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    base = Config.fromfile(osp.join(CONFIGS, 'reviosa_1b.py'))
    path = INTERNVL3[name][0]
    tokenizer = dict(type='build_role_tokenizer', tokenizer=path)
    assert cfg.mllm_path == path and cfg.model.mllm.pretrained == path
    assert cfg.model.mllm.tokenizer == tokenizer
    for split, pipeline_name in (('train', 'train_pipeline'), ('val', 'test_pipeline'),
                                 ('test', 'test_pipeline')):
        pipeline = cfg[f'{split}_dataloader'].dataset.pipeline
        assert pipeline == cfg[pipeline_name]
        tokenize = [t for t in pipeline if t.type == 'TokenizeConversation']
        assert len(tokenize) == 1 and tokenize[0].tokenizer == tokenizer
        # No system_prompt override: TokenizeConversation's default is the template's.
        assert 'system_prompt' not in tokenize[0]
        assert _without_tokenizer(pipeline) == _without_tokenizer(base[pipeline_name])
    # Everything else of the model is reviosa_1b.py's.
    for key in ('sam2_head', 'loss_aml', 'projector', 'test_cfg', 'role_mode'):
        assert cfg.model.get(key) == base.model.get(key), key
    mllm = {k: v for k, v in cfg.model.mllm.items() if k not in ('pretrained', 'tokenizer')}
    assert mllm == {k: v for k, v in base.model.mllm.items()
                    if k not in ('pretrained', 'tokenizer')}


def test_prompt_is_the_internvl2_5_template_of_internvl3():
    from mmreviosa.text import SYSTEM_PROMPT, build_prompt
    assert SYSTEM_PROMPT == INTERNVL2_5_SYSTEM
    question = 'Please segment the actor: the red ball pushing the blue box.'
    image = '<img>' + '<IMG_CONTEXT>' * 3 + '</img>'
    # InternVL's chat puts one '<image>\n' per image before the question, then replaces each
    # '<image>' with the image's context tokens.
    user = f'{image}\n{image}\n{question}'
    assert build_prompt(question, 2, 3) == render_internvl2_5(user)
