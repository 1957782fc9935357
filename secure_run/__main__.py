"""``python -m secure_run``: the ``secure-run`` command line."""

import sys

from ._cli import main

sys.exit(main())
