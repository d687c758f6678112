"""A task for the cluster shutdown test: marks its start, works a few seconds, marks its end (one line each)."""

import time
from pathlib import Path


def slow_marker(path: str, seconds: float) -> str:
    marks = Path(path)
    with marks.open("a") as f:
        f.write("start\n")
    time.sleep(seconds)
    with marks.open("a") as f:
        f.write("end\n")
    return "done"
