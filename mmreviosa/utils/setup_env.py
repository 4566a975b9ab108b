"""Process-wide set-up the tools call explicitly: scope, registries and thread count.

Nothing here runs on import.
"""
import datetime
import os
import warnings

from mmengine import DefaultScope

from mmreviosa import registry


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every mmreviosa module that registers something, and set the default scope.

    Args:
        init_default_scope (bool): make 'mmreviosa' the current default scope
            (a new instance named ``mmreviosa-<timestamp>`` if another scope is
            current, as mmdet does).
    """
    # The registries' `locations` name every module that registers something; importing
    # them from there keeps this bottom-layer module free of imports of the layers above.
    for name in registry.__all__:
        getattr(registry, name).import_from_location()
    if init_default_scope:
        never_created = (DefaultScope.get_current_instance() is None
                         or not DefaultScope.check_instance_created('mmreviosa'))
        if never_created:
            DefaultScope.get_instance('mmreviosa', scope_name='mmreviosa')
            return
        current_scope = DefaultScope.get_current_instance()
        if current_scope.scope_name != 'mmreviosa':
            warnings.warn('The current default scope '
                          f'"{current_scope.scope_name}" is not "mmreviosa", '
                          '`register_all_modules` will force the current '
                          'default scope to be "mmreviosa".')
            new_instance_name = f'mmreviosa-{datetime.datetime.now()}'
            DefaultScope.get_instance(new_instance_name, scope_name='mmreviosa')


def setup_runtime(num_threads: int = None) -> None:
    """Runtime fixes every entry point needs.

    * Sets the number of torch threads from ``MMREVIOSA_NUM_THREADS`` or
      ``num_threads`` when given: on small CPU machines several processes with
      default thread counts oversubscribe the cores and run many times slower.
    """
    num_threads = num_threads or os.environ.get('MMREVIOSA_NUM_THREADS')
    if num_threads:
        import torch
        torch.set_num_threads(int(num_threads))
