"""Former place of :mod:`mmreviosa.builders.intershapes` (offline builders are not loaders).

Kept only for ``mmreviosa/models/mllm/tokenizer.py``, which still imports the InterShapes
vocabulary from here; import from :mod:`mmreviosa.builders.intershapes` instead.
"""
from mmreviosa.builders.intershapes import *  # noqa: F401,F403
from mmreviosa.builders.intershapes import __all__  # noqa: F401
