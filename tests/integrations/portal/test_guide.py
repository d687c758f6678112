"""The portal as staff work it: the payer's link and instructions, every field prefilled with a copy
button, the payer's reference recorded on submission; follow-ups are the engine's
(tests/integrations/submission/test_manual_follow_up.py runs the portal channel)."""

import pytest

from cases import actions
from cases.models import Status, Task
from cases.reference import case_reference
from integrations.submission.models import Submission
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def portal_case(practice, owner_provider, owner_clinician):
    practice.npi, practice.phone = "1234567893", "555-010-4400"
    practice.submission_requires_approval = False
    practice.save()
    payer = f.PayerFactory(
        name="Webonly Health",
        default_channel="portal",
        portal_url="https://provider.webonly.example/pa",
        portal_instructions="Authorizations > New request > Outpatient imaging.",
    )
    patient = f.PatientFactory(practice=practice, first_name="Teddy", last_name="Flood")
    coverage = f.CoverageFactory(patient=patient, payer=payer, member_id="WO-55120", group_number="GRP-9")
    order = f.OrderFactory(
        practice=practice,
        patient=patient,
        ordering_provider=owner_provider,
        coverage=coverage,
        diagnosis_codes=["M54.16", "M51.26"],
        site_of_service="22",
    )
    return f.gate_met(f.CaseFactory(order=order, payer=payer, status=Status.READY, channel="portal"), owner_clinician)


def test_guide_prefills_every_field_with_a_copy_button(client, coordinator, portal_case, owner_provider):
    client.force_login(coordinator)
    page = client.get(f"/cases/{portal_case.pk}/portal/").content.decode()

    assert 'href="https://provider.webonly.example/pa"' in page
    assert "Authorizations &gt; New request" in page
    for value in (
        "WO-55120",
        "GRP-9",
        owner_provider.npi,
        "1234567893",
        "70551",
        "M54.16, M51.26",
        "05/17/1970",
        "Flood",
        "555-010-4400",
        case_reference(portal_case.pk),
        "Standard",
    ):
        assert value in page, value
    assert page.count("data-copy=") >= 15
    assert "js/copy.js" in page


def test_submit_task_points_at_the_guide_and_recording_keeps_the_payer_reference(
    client, coordinator, portal_case, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    actions.case_submit(case=portal_case, actor=coordinator)
    task = Task.objects.get(case=portal_case, kind=Task.Kind.SUBMIT)
    assert f"/cases/{portal_case.pk}/portal/" in task.detail and "provider.webonly.example" in task.detail

    client.force_login(coordinator)
    response = client.post(f"/cases/{portal_case.pk}/portal/submitted", {"payer_reference": "WEB-2026-0042"})

    assert response.status_code == 302
    portal_case.refresh_from_db()
    assert portal_case.status == Status.SUBMITTED and portal_case.payer_tracking_id == "WEB-2026-0042"
    assert Submission.objects.get(case=portal_case).state == Submission.State.ACCEPTED
    task.refresh_from_db()
    assert task.done_at is not None
    assert portal_case.next_poll_at is not None  # followed up on the payer's cadence from here


def test_case_page_links_the_guide(client, coordinator, portal_case):
    client.force_login(coordinator)
    assert f"/cases/{portal_case.pk}/portal/" in client.get(f"/cases/{portal_case.pk}/").content.decode()
