"""The MOL network (one module per block), its loss and its checkpoint format."""

from .builders import mol_authors, mol_demo, mol_paper, mol_preset
from .checkpoint import Checkpoint
from .loss import MOLLoss
from .mol import MOL

__all__ = ["MOL", "MOLLoss", "Checkpoint", "mol_authors", "mol_demo", "mol_paper", "mol_preset"]
