"""Offline builders of InterRVOS data: each writes a split folder in the format of
:mod:`mmreviosa.fileio` (``JPEGImages/``, ``meta_expressions.json``, ``mask_dict.json``).

- :mod:`mmreviosa.builders.intershapes`: InterShapes, the synthetic benchmark
  (``tools/dataset_converters/make_intershapes.py``).
- :mod:`mmreviosa.builders.vidor`: VidOR relations to actor/target expressions
  (``tools/dataset_converters/vidor_to_interrvos.py``).

Nothing here is imported by :mod:`mmreviosa.datasets`, which only loads data.
"""
