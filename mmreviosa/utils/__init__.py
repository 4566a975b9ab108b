from .setup_env import register_all_modules, setup_runtime, use_cpu_backend

__all__ = ['register_all_modules', 'setup_runtime', 'use_cpu_backend']
