"""Starting a Node test peer (tests/peers/*.mjs) for a test session."""

import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@contextmanager
def node_peer(script: str, *args: str, label: str):
    """Run `node tests/peers/<script> 0 <args>`; yield the port it prints as `LISTENING <port>`.

    Its stderr goes to a file, not a pipe nobody reads, so a talkative peer
    never blocks on a full pipe; the file's tail is the failure message.
    """
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(  # noqa: S603 - a fixed script of this repository
            ["node", str(REPO / "tests" / "peers" / script), "0", *args],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        try:
            line = proc.stdout.readline()
            if not line.startswith("LISTENING"):
                proc.wait(timeout=5)
                errors.seek(0)
                raise AssertionError(f"{label} did not start: {line} {errors.read().decode(errors='replace')[-2000:]}")
            yield int(line.split()[1])
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
