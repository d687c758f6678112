"""What a worker process is doing, read from /proc: alive, talking to which loopback port, running which task."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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


class Supervised:
    """`manage.py qsupervise` running in its own session; its log is read to find pids."""

    def __init__(self, log_path: Path, *args: str, env: dict | None = None):
        from django.db import connection

        settings = connection.settings_dict
        host = f"{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}"
        url = f"postgres://{settings['USER']}@{host}/{settings['NAME']}"
        env = {**os.environ, "DATABASE_URL": url, "Q_WORKERS": "2", "Q_SYNC": "0", "LOG_LEVEL": "INFO", **(env or {})}
        if settings.get("PASSWORD"):
            env["PGPASSWORD"] = settings["PASSWORD"]
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "qsupervise", *args],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def cluster_pids(self) -> list[int]:
        return [int(p) for p in re.findall(r"qcluster started \(pid (\d+)\)", self.text())]

    def worker_pids(self) -> list[int]:
        """Workers of the newest cluster: django-q2 logs "<name> ready for work at <pid>"."""
        text = self.text()
        newest = text.rfind("qcluster started")
        return [int(p) for p in re.findall(r"ready for work at (\d+)", text[newest:])]

    def wait_for(self, predicate, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.5)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}\n--- log ---\n{self.text()[-4000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        # Whatever cluster is left (the supervisor was killed before it could stop it): its whole group.
        for pid in self.cluster_pids():
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.log.close()
