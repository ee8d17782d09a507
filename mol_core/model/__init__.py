"""The MOL network (one module per block) and its loss."""

from .loss import MOLLoss
from .mol import MOL

__all__ = ["MOL", "MOLLoss"]
