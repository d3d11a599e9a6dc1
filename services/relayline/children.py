"""Child processes that never outlive `relayline up`."""

import ctypes
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1
# Looked up here, in the parent: nothing may be loaded between fork and exec.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` for Popen: the kernel sends the child SIGTERM when this process dies, so
    a `relayline up` killed with SIGKILL leaves no Redis, edge or worker behind. None (nothing
    to do) where prctl does not exist."""
    if _LIBC is None:
        return None
    parent = os.getpid()
    libc = _LIBC

    def arm() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl: nobody would send it
            os.kill(os.getpid(), signal.SIGTERM)

    return arm
