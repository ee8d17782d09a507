"""``python -m mol_core.report <experiment|seeds|summary|ablations> ...`` (:mod:`.cli`)."""

import sys

from .cli import main

sys.exit(main())
