"""MOL: joint micro-expression recognition, optical flow estimation and 68-point
landmark detection (Shao et al., TPAMI), as an importable library.

Stages (each usable without Snakemake, each with a ``python -m`` entry point):
``mol_core.synthetic`` (embedded dataset), ``mol_core.datasets`` (video tables),
``mol_core.preprocess`` (aligned frames, landmarks, TV-L1 flow in Zarr stores),
``mol_core.clips`` (clip index), ``mol_core.train`` (one LOSO fold),
``mol_core.report`` (metrics tables).
"""

__version__ = "0.1.0"
