import sys

from .index import main

sys.exit(main())
