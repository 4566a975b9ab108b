from .plugin_inputs import AuxLossInputs, RoleAttention
from .reviosa import ReVIOSa, ReVIOSaTensorOutput
from .role_projector import RoleTokenProjector

__all__ = ['AuxLossInputs', 'ReVIOSa', 'ReVIOSaTensorOutput', 'RoleAttention', 'RoleTokenProjector']
