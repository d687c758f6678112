"""Where the real example files of ../shared/data live on this machine.

The files are not ours to commit (Da Vinci PAS reference-implementation
bundles, Twilio's API description), so the tests read them in place. A clone
may sit anywhere — CI clones into a directory of its own — so the folder is
found by `SHARED_DATA_DIR`, then beside the checkout, then at the workplace's
fixed path. Missing everywhere is an error, not a skip: these tests must run.
"""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_CANDIDATES = [
    os.environ.get("SHARED_DATA_DIR", ""),
    str(REPO.parent / "shared" / "data"),
    "/work/shared/data",
]


def shared_data_dir() -> Path:
    for candidate in _CANDIDATES:
        if candidate and Path(candidate, "fhir").is_dir():
            return Path(candidate)
    raise FileNotFoundError(
        "The shared example files (fhir/davinci-pas-ri, twilio/…) were not found; set SHARED_DATA_DIR. "
        f"Looked in: {', '.join(c for c in _CANDIDATES if c)}"
    )


SHARED_DATA = shared_data_dir()
