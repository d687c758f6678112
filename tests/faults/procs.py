"""What a worker process is doing, read from /proc: alive, talking to which loopback port, running which task."""

from __future__ import annotations

import os
import re
from pathlib import Path


def connected_to(pid: int, ports: set[int]) -> int | None:
    """The loopback port among `ports` that process `pid` has an established TCP connection to (a call in
    flight), or None. Read from /proc: the worker's socket inodes matched against the kernel's table."""
    try:
        inodes = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            cols = line.split()
            port = int(cols[2].rsplit(":", 1)[1], 16)
            if cols[3] == "01" and cols[9] in inodes and port in ports:
                return port
    return None


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def running(pid: int) -> str:
    """The task function a worker runs now, from its process title (django-q2 sets it with setproctitle:
    "qcluster Process-1:2 processing <name> '<func>'"), or "" when idle."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""
    found = re.search(r"processing \S+ '([^']+)'", title)
    return found.group(1) if found else ""
