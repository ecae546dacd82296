"""Is the process behind a claim or lease still there? (Same host only: another host's process cannot be seen.)

Claims and leases name their holder `host:pid[:…]`. A holder on this host whose
process is gone (SIGKILL, OOM) holds nothing any more: whoever comes next may take
its rows or sources at once instead of waiting for the lease to run out.
"""

from __future__ import annotations

import os
import socket


def local_host() -> str:
    """The name holders on this machine use for it."""
    return socket.gethostname()


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine (someone else's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def dead_local(host: str, pid: str) -> bool:
    """True when `host` is this machine and `pid` names another process of it that is gone."""
    return host == local_host() and pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid))
