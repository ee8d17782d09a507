"""``python -m mol_core.export``: kept for the documented command; the code lives in
:mod:`mol_core.store.export`."""

import sys

from .store.export import main

if __name__ == "__main__":
    sys.exit(main())
