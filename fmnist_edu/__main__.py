"""Allow ``python -m fmnist_edu``."""

import sys

from fmnist_edu.cli import main

sys.exit(main())
