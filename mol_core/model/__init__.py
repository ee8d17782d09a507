"""The MOL network (one module per block), its loss and its checkpoint format."""

from .checkpoint import Checkpoint
from .loss import MOLLoss
from .mol import MOL

__all__ = ["MOL", "MOLLoss", "Checkpoint"]
