"""OpenMP's wait policy: the ``cffd`` command makes idle threads sleep; what the user set is kept.

On a busy 2-core machine, sleeping idle threads was measured 10x faster than the default
spin-wait (cffd bench model --passive-wait), so the command sets OMP_WAIT_POLICY=PASSIVE before
torch loads. The model benchmark's workers go back to the user's own setting, so that models
are timed as the library runs them.
"""

from __future__ import annotations

import os

# Read when this module is first imported: the command imports it before it sets its default.
USER_OMP_WAIT_POLICY = os.environ.get("OMP_WAIT_POLICY")


def prefer_sleeping_threads() -> None:
    """OMP_WAIT_POLICY=PASSIVE unless the user chose a policy; call it before torch loads."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
