"""Which URL names the access matrix covers (Zulip's untested-URL check).

An access-matrix test names the URLs it requests with `@covers("app:name")`
(or, on one parametrized case, `pytest.param(..., marks=covers("app:name"))`).
`covers` does two things:

- at import, it records the name in `COVERED`; `tests/test_url_access_matrix.py`
  imports every `test_*access*.py` module and fails for any named URL of the
  project that no matrix test covers;
- while the test runs, `tests/conftest.py` records each URL the test client
  requests and fails the test if it never requested a name it claims, so a
  claim cannot outlive the request it stood for.

The users of every row are the fixtures in tests/conftest.py: coordinator,
manager, front desk, the clinician who owns the case, the one who does not,
another practice's user, and anonymous.
"""

import sys

import pytest

# url name -> "module::test" of the tests that cover it
COVERED: dict[str, set[str]] = {}

# Every matrix row runs as each of these (fixture names, plus "anonymous").
USERS = ["coordinator", "front_desk", "manager", "other_clinician", "outsider", "owner_clinician", "anonymous"]


def covers(*names: str):
    """Mark a test (or one pytest.param) as the access-matrix row for these URL names."""
    caller = sys._getframe(1)
    where = f"{caller.f_globals.get('__name__', '?')}:{caller.f_lineno}"
    for name in names:
        COVERED.setdefault(name, set()).add(where)
    return pytest.mark.covers(*names)
