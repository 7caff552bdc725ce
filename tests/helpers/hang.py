"""The one time limit the tests know: a hang guard, never a limit on slowness.

No test's outcome may depend on how fast the machine is (the suite must pass beside other work on
a loaded 2-core machine). A test that waits for a subprocess waits at most ``HANG_GUARD`` seconds,
which only a run that never ends reaches; it then fails saying it hung (``hung``), not that it was
slow. Speed is measured by the benchmarks (``make bench``).
"""

from __future__ import annotations

import subprocess

HANG_GUARD = 3600  # seconds


def hung(exc: subprocess.TimeoutExpired) -> AssertionError:
    """Return the failure for a command that ran into the hang guard."""
    command = exc.cmd if isinstance(exc.cmd, str) else " ".join(str(part) for part in exc.cmd)
    return AssertionError(
        f"hang: {command[:300]} still running after {exc.timeout:.0f} s (the hang guard; a slow machine never reaches it)"
    )
