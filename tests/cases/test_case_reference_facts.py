"""The case page shows what a coordinator types into a portal or reads on the phone, each with a copy button, and
evidence lines in words (issue 16 item 5)."""

import pytest
from django.urls import reverse

from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def full_case(practice, payer):
    location = f.LocationFactory(practice=practice, place_of_service="22")
    provider = f.ProviderFactory(practice=practice, npi="1234567893", location=location)
    patient = f.PatientFactory(practice=practice, mobile_phone="+15555550142")
    coverage = f.CoverageFactory(patient=patient, payer=payer, member_id="XK55120", group_number="GRP-778")
    order = f.OrderFactory(
        practice=practice,
        patient=patient,
        ordering_provider=provider,
        location=location,
        site_of_service="",
        coverage=coverage,
        diagnosis_codes=["M54.16", "I10"],
    )
    case = f.CaseFactory(order=order, payer=payer)
    f.RequirementStatusFactory(
        case=case,
        state="met",
        evidence=[{"resource": "Procedure/demo-452297", "date": "2026-02-11", "value": "Physical therapy"}],
    )
    return case


def _fact(page: str, key: str, case) -> str:
    start = page.index(f'id="ref-{case.pk}-{key}"')
    return page[start : page.index("</dd>", start)]


def test_portal_facts_each_with_a_copy_button(client, coordinator, full_case):
    client.force_login(coordinator)
    page = client.get(reverse("cases:detail", args=[full_case.pk])).content.decode()
    expected = {
        "member": "XK55120",
        "group": "GRP-778",
        "npi": "1234567893",
        "pos": "22",  # the location's place of service: the code is copied, its words shown beside it
        "phone": "555-555-0142",
        "dx-1": "M54.16",
        "dx-2": "I10",
    }
    for key, value in expected.items():
        fact = _fact(page, key, full_case)
        assert f">{value}</span>" in fact, key
        assert f'data-copy="ref-{full_case.pk}-{key}"' in page, key
    assert "On-campus outpatient hospital" in _fact(page, "pos", full_case)
    assert ">05/17/1970</span>" in _fact(page, "dob", full_case)
    assert "Radiculopathy, lumbar region" in page and "Essential (primary) hypertension" in page
    assert "js/copy.js" in page


def test_missing_values_are_said_not_guessed(client, coordinator, case):
    client.force_login(coordinator)
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert "no coverage on file" in page and "no phone on file" in page
    assert f'data-copy="ref-{case.pk}-member"' not in page


def test_evidence_lines_say_what_and_when_not_raw_ids(client, coordinator, full_case):
    client.force_login(coordinator)
    page = client.get(reverse("cases:detail", args=[full_case.pk])).content.decode()
    assert "Procedure/demo-452297" not in page
    assert "<strong>Procedure</strong>: Physical therapy" in page and "Feb 11, 2026" in page
