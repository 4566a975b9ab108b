from .reviosa import ReVIOSa, ReVIOSaTensorOutput
from .role_projector import RoleTokenProjector

__all__ = ['ReVIOSa', 'ReVIOSaTensorOutput', 'RoleTokenProjector']
