import sys

from .inference import main

sys.exit(main())
