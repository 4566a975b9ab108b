"""Import the repository's command-line scripts (``tools/``, not a package) as modules."""
import importlib.util
import os.path as osp
import sys
from types import ModuleType

#: The source checkout that holds ``tools/`` (the package is installed editable).
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool(relative_path: str, register: bool = False) -> ModuleType:
    """Load ``REPO_ROOT/relative_path`` (e.g. ``'tools/analysis_tools/baselines.py'``) as a
    module named after the file.

    Args:
        relative_path: path of the script below the repository root.
        register: also enter it in ``sys.modules``, which worker processes need to
            unpickle functions defined in it.
    """
    path = osp.join(REPO_ROOT, relative_path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} not found: the tools live in the source checkout')
    name = osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    if register:
        sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
