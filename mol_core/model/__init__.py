"""The MOL network (one module per block), its loss and its checkpoint format."""

from .builders import mol_authors, mol_demo, mol_paper, mol_preset
from .checkpoint import Checkpoint
from .heads import FlowHeadOptions
from .loss import MOLLoss
from .mol import MOL

__all__ = ["MOL", "MOLLoss", "Checkpoint", "FlowHeadOptions", "mol_authors", "mol_demo", "mol_paper", "mol_preset"]
