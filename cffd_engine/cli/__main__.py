"""``python -m cffd_engine.cli``: the ``cffd`` command (torchrun launches it this way)."""

import sys

from cffd_engine.cli import main

sys.exit(main())
