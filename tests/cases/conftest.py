import datetime as dt
import zoneinfo

import pytest

from cases.models import Status
from tests import factories as f

NY = zoneinfo.ZoneInfo("America/New_York")
LA = zoneinfo.ZoneInfo("America/Los_Angeles")
# Wednesday 18 November 2026, 07:30 in New York (12:30 UTC).
WEDNESDAY_0730 = dt.datetime(2026, 11, 18, 7, 30, tzinfo=NY)


@pytest.fixture
def make_case(practice, owner_provider):
    """make_case(status, payer=..., scheduled=date, **case fields): a case placed directly in a status."""

    def _make(status=Status.GATHERING, *, payer=None, scheduled=None, provider=None, **fields):
        order = f.OrderFactory(
            practice=practice, ordering_provider=provider or owner_provider, scheduled_date=scheduled
        )
        kwargs = {"order": order, "status": status}
        if payer is not None:
            kwargs["payer"] = payer
        kwargs.update(fields)
        return f.CaseFactory(**kwargs)

    return _make


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # PBKDF2 costs ~0.7 s per user on these machines and the sweep fixtures make
    # several users; nothing here tests hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
