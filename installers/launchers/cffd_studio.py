"""Entry script of the frozen ``cffd-studio`` window (the same as the ``cffd-studio`` script)."""

import multiprocessing
import sys

if __name__ == "__main__":
    # Worker processes (spawn) of a frozen program re-run this executable; this hands them over.
    multiprocessing.freeze_support()
    from app.main import main

    sys.exit(main())
