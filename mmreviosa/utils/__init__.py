from .pretrained import INTERNVL_CONVERTER, check_local_pretrained, internvl_hint
from .setup_env import register_all_modules, setup_runtime

__all__ = ['register_all_modules', 'setup_runtime', 'check_local_pretrained', 'internvl_hint',
           'INTERNVL_CONVERTER']
