import os

import pytest
from django.db import connection

from cases.models import Role
from tests import factories as f


def pytest_configure(config):
    # CI sets REQUIRE_POSTGRES so a mis-set DATABASE_URL fails loudly instead
    # of quietly running the suite on SQLite.
    if os.environ.get("REQUIRE_POSTGRES") and "postgres" not in os.environ.get("DATABASE_URL", ""):
        raise pytest.UsageError("REQUIRE_POSTGRES is set but DATABASE_URL is not PostgreSQL")


def pytest_collection_modifyitems(config, items):
    # Browser and fault tests race real clocks (Chromium and a live server, a cluster killed on a timer, on a
    # 2-core machine shared by three test processes): one that fails runs once more (pytest-rerunfailures).
    # A rerun is reported ("R" in the progress line, "rerun" in the summary); a test that fails twice fails.
    if not config.pluginmanager.hasplugin("rerunfailures"):  # `-p no:rerunfailures`: every test runs once
        return
    for item in items:
        if (item.get_closest_marker("e2e") or item.get_closest_marker("faults")) and not item.get_closest_marker(
            "flaky"
        ):
            item.add_marker(pytest.mark.flaky(reruns=1, reruns_delay=1))


@pytest.fixture(autouse=True)
def _sandbox_enabled(settings):
    # The built-in sandboxes are off unless asked for (settings.SANDBOX_ENABLED; `make run` asks). The suite
    # asks, because many tests play the EHR and the payers with them; tests of the off state set it False.
    settings.SANDBOX_ENABLED = True


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # PBKDF2 at Django's default cost takes ~0.5 s per user; every factory
    # user would pay it. Tests do not measure hashing strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item._call_passed = report.passed
    return report


@pytest.fixture(autouse=True)
def _access_matrix_requests(request, monkeypatch):
    """A test marked `covers(...)` must request each URL name it claims (tests/access_matrix.py)."""
    claimed = {name for mark in request.node.iter_markers("covers") for name in mark.args}
    if not claimed:
        yield
        return
    from django.test import Client
    from django.urls import Resolver404, resolve

    requested = set()
    send = Client.request

    def recording(self, **environ):
        try:
            requested.add(resolve(environ["PATH_INFO"]).view_name)
        except Resolver404:
            pass
        return send(self, **environ)

    monkeypatch.setattr(Client, "request", recording)
    yield
    if not getattr(request.node, "_call_passed", False):
        return  # a failed or skipped test says so itself
    missing = claimed - requested
    assert not missing, f"claims to cover {sorted(missing)} but never requested them"


@pytest.fixture
def as_user(client, request, coordinator, manager, front_desk, owner_clinician, other_clinician, outsider):
    """as_user("coordinator") -> the test client signed in as that fixture user ("anonymous": not signed in).

    Every matrix user exists in every such test, so role lookups see the whole practice.
    """

    def _as(name):
        client.logout()
        if name != "anonymous":
            client.force_login(request.getfixturevalue(name))
        return client

    return _as


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (row locks and skip_locked); set DATABASE_URL")


@pytest.fixture
def practice(db):
    return f.PracticeFactory(name="Riverside Medical Group")


@pytest.fixture
def other_practice(db):
    return f.PracticeFactory(name="Elsewhere Clinic")


@pytest.fixture
def owner_provider(practice):
    return f.ProviderFactory(practice=practice, specialty="Orthopedics")


@pytest.fixture
def coordinator(practice):
    return f.UserFactory(practice=practice, username="coord", roles=[Role.COORDINATOR])


@pytest.fixture
def manager(practice):
    return f.UserFactory(practice=practice, username="mgr", roles=[Role.MANAGER])


@pytest.fixture
def front_desk(practice):
    return f.UserFactory(practice=practice, username="desk", roles=[Role.FRONT_DESK])


@pytest.fixture
def owner_clinician(practice, owner_provider):
    return f.UserFactory(practice=practice, username="doc-owner", roles=[Role.CLINICIAN], provider=owner_provider)


@pytest.fixture
def other_clinician(practice):
    provider = f.ProviderFactory(practice=practice, specialty="Cardiology")
    return f.UserFactory(practice=practice, username="doc-other", roles=[Role.CLINICIAN], provider=provider)


@pytest.fixture
def outsider(other_practice):
    """A manager of another practice: sees nothing of ours."""
    return f.UserFactory(practice=other_practice, username="outsider", roles=[Role.MANAGER])


@pytest.fixture
def payer(db):
    return f.PayerFactory(name="Acme Health", cms_impacted=True)


@pytest.fixture
def case(practice, owner_provider, payer):
    order = f.OrderFactory(practice=practice, ordering_provider=owner_provider)
    return f.CaseFactory(order=order, payer=payer)


@pytest.fixture
def q_sync(monkeypatch):
    """django-q2 runs enqueued tasks inline (it reads its settings once, at import)."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)
