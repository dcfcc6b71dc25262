"""Entry script of the frozen ``cffd`` command (the same as the ``cffd`` console script)."""

import multiprocessing
import sys

if __name__ == "__main__":
    # Worker processes (spawn) of a frozen program re-run this executable; this hands them over.
    multiprocessing.freeze_support()
    from cffd_engine.cli import main

    sys.exit(main())
