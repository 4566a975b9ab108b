import mmengine
from mmengine.utils import digit_version

from .version import __version__, version_info

mmengine_minimum_version = '0.10.0'
mmengine_maximum_version = '0.11.0'
mmengine_version = digit_version(mmengine.__version__)

assert (digit_version(mmengine_minimum_version) <= mmengine_version
        < digit_version(mmengine_maximum_version)), (
    f'MMEngine=={mmengine.__version__} is used but incompatible. Please '
    f'install mmengine>={mmengine_minimum_version}, '
    f'<{mmengine_maximum_version}.')

__all__ = ['__version__', 'version_info', 'digit_version']

# MMEngine 0.10.7 cannot read its own checkpoints under torch >= 2.6 (weights_only);
# fix its local loader as soon as mmreviosa is imported, so `--resume` just works.
from .engine.checkpoint import allow_mmengine_checkpoints  # noqa: E402

allow_mmengine_checkpoints()
