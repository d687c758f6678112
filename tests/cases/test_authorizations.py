"""The Authorizations view: approved / partially approved cases with number, dates, units and used / remaining,
filterable by provider, location and date (issue 16 item 4)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from cases.models import CaseEvent, Status
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_auth(practice, payer):
    def make(*, number, status=Status.APPROVED, start=dt.date(2026, 1, 1), end=dt.date(2026, 6, 30), **order_kw):
        order = f.OrderFactory(practice=practice, **order_kw)
        return f.CaseFactory(
            order=order,
            payer=payer,
            status=status,
            authorization_number=number,
            auth_effective_start=start,
            auth_effective_end=end,
            units_approved=Decimal("12"),
        )

    return make


def _rows(page: str, cases) -> set[int]:
    return {c.pk for c in cases if f'id="auth-{c.pk}"' in page}


def test_lists_approved_and_partial_with_units_used_and_remaining(client, front_desk, make_auth, case):
    full = make_auth(number="A-100")
    partial = make_auth(number="A-200", status=Status.PARTIALLY_APPROVED)
    full.units_used = Decimal("5")
    full.save(update_fields=["units_used"])
    client.force_login(front_desk)
    page = client.get(reverse("cases:authorizations")).content.decode()
    assert _rows(page, [full, partial, case]) == {full.pk, partial.pk}  # the NEW case is not an authorization
    row = page[page.index(f'id="auth-{full.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "A-100" in row and "Jan 1, 2026" in row and "Jun 30, 2026" in row
    assert ">12<" in row and 'value="5"' in row and ">7<" in row  # authorized, used, remaining


def test_filters_by_provider_location_and_date(client, coordinator, practice, make_auth):
    north = f.LocationFactory(practice=practice, name="North")
    doctor = f.ProviderFactory(practice=practice)
    at_north = make_auth(number="N-1", location=north)
    by_doctor = make_auth(number="D-1", ordering_provider=doctor)
    ended = make_auth(number="E-1", start=dt.date(2025, 1, 1), end=dt.date(2025, 3, 31))
    cases = [at_north, by_doctor, ended]
    client.force_login(coordinator)
    url = reverse("cases:authorizations")
    assert _rows(client.get(url, {"location": north.pk}).content.decode(), cases) == {at_north.pk}
    assert _rows(client.get(url, {"provider": doctor.pk}).content.decode(), cases) == {by_doctor.pk}
    assert _rows(client.get(url, {"valid_on": "2026-02-01"}).content.decode(), cases) == {at_north.pk, by_doctor.pk}
    assert _rows(client.get(url, {"ending_by": "2025-12-31"}).content.decode(), cases) == {ended.pk}


def test_a_bad_filter_value_is_named_not_a_500(client, coordinator, make_auth):
    make_auth(number="A-1")
    client.force_login(coordinator)
    response = client.get(reverse("cases:authorizations"), {"valid_on": "not-a-date"})
    assert response.status_code == 200
    assert "Valid on: Enter a valid date." in response.content.decode()


def test_units_used_are_recorded_on_the_timeline_and_bounded(client, front_desk, make_auth):
    auth = make_auth(number="A-1")
    client.force_login(front_desk)
    client.post(reverse("cases:units_used", args=[auth.pk]), {"units_used": "4"})
    auth.refresh_from_db()
    assert auth.units_used == 4 and auth.units_remaining == 8
    assert auth.events.filter(kind=CaseEvent.Kind.NOTE, message__startswith="Units used: 4").exists()
    # more than authorized is refused with the reason, nothing changes
    response = client.post(reverse("cases:units_used", args=[auth.pk]), {"units_used": "13"}, follow=True)
    auth.refresh_from_db()
    assert auth.units_used == 4
    assert "Only 12 units are authorized." in response.content.decode()


def test_authorizations_queries_do_not_grow_with_rows(client, coordinator, make_auth, django_assert_max_num_queries):
    client.force_login(coordinator)
    for n in range(3):
        make_auth(number=f"S-{n}")
    url = reverse("cases:authorizations")
    client.get(url)
    for n in range(40):
        make_auth(number=f"L-{n}")
    # Queries: session, user, groups, practice (menu), the filter form's provider and location choices (2),
    # page count, page rows (case + patient + order + provider + location + payer ... one join), session save
    # (savepoint, update, release).
    with django_assert_max_num_queries(12):
        assert client.get(url).status_code == 200
