"""The real-scale configs feed the published weights what they were trained with: the
InternVL-2.5 chat template and InternVL's / SAM2's own image resizing."""
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image
from torchvision import transforms as T

from mmreviosa.registry import TRANSFORMS
from mmreviosa.text import build_prompt

CONFIGS = osp.join(osp.dirname(__file__), '..', '..', '..', 'configs', 'reviosa')
# InternVL's conversation.py, template 'internvl2_5': system message and MPT-style turns.
INTERNVL2_5_SYSTEM = ('你是书生·万象，英文名是InternVL，是由上海人工智能实验室、清华大学及多家合作单位'
                      '联合开发的多模态大语言模型。')


def internvl2_5_prompt(question: str) -> str:
    """InternVL-2.5's ``Conversation.get_prompt()`` with one user turn and an open answer."""
    sep = '<|im_end|>\n'
    return (f'<|im_start|>system\n{INTERNVL2_5_SYSTEM}{sep}'
            f'<|im_start|>user\n{question}{sep}<|im_start|>assistant\n')


def test_default_prompt_is_internvl2_5_chat_template():
    image = '<img>' + '<IMG_CONTEXT>' * 3 + '</img>\n'
    assert build_prompt('Segment it.', 2, 3) == internvl2_5_prompt(image * 2 + 'Segment it.')


@pytest.mark.parametrize('name', ['reviosa_1b.py', 'reviosa_4b.py'])
def test_real_configs_resize_as_internvl_and_sam2_do(name):
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    resize_cfg = next(t for t in cfg.test_pipeline if t['type'] == 'ResizeForModels')
    train_resize_cfg = next(t for t in cfg.train_pipeline if t['type'] == 'ResizeForModels')
    assert resize_cfg == train_resize_cfg
    resize = TRANSFORMS.build(resize_cfg)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(2, 300, 500, 3), dtype=np.uint8)
    out = resize(dict(frames=frames, key_frame_inds=[1]))
    # InternVL's build_transform: T.Resize((448, 448), BICUBIC) on the PIL image.
    internvl = T.Resize((448, 448), interpolation=T.InterpolationMode.BICUBIC)
    expected = np.asarray(internvl(Image.fromarray(frames[1])))
    np.testing.assert_array_equal(out['mllm_pixels'][0].transpose(1, 2, 0), expected)
    # SAM2's video predictor: PIL's default resize (bicubic) to 1024 x 1024.
    for t in range(2):
        expected = np.asarray(Image.fromarray(frames[t]).resize((1024, 1024)))
        np.testing.assert_array_equal(out['sam_pixels'][t].transpose(1, 2, 0), expected)


@pytest.mark.parametrize('name', ['reviosa_1b.py', 'reviosa_4b.py'])
def test_real_configs_use_internvl_system_prompt_and_padded_sam2_prompts(name):
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    for pipeline in (cfg.train_pipeline, cfg.test_pipeline):
        tokenize = next(t for t in pipeline if t['type'] == 'TokenizeConversation')
        assert tokenize.get('system_prompt', None) is None  # the default: InternVL-2.5's
    assert cfg.model.sam2_head.prompt_layout == 'padded'
    assert cfg.model.mllm.torch_dtype == 'bfloat16'
