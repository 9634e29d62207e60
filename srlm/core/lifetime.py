"""Child processes that never outlive the process that started them.

Linux delivers a chosen signal to a process when its parent dies (`PR_SET_PDEATHSIG`), also
when the parent is killed with SIGKILL, which no handler in the parent can see. Generation
workers and the ranks of a launched training ask for SIGKILL (they hold nothing worth
saving); the `accelerate launch` process asks for SIGTERM, which its torchrun agent turns
into stopping its ranks. Elsewhere (not Linux) this is a no-op.
"""

from __future__ import annotations

import os
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Have the kernel send `sig` to this process when its parent dies; when the parent
    is already gone (it died before this call), exit at once."""
    parent = os.getppid()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # reparented between the two calls: the parent died
        os.kill(os.getpid(), sig)
