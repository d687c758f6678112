"""The front desk sees a case's scheduling facts, nothing clinical; bulk assignment only to case workers (item 7)."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cases.documents import document_upload
from cases.models import Role, Status
from tests import factories as f

DIAGNOSIS = "M54.16"
SUMMARY = "Radicular pain despite eight weeks of physical therapy"


@pytest.fixture
def clinical_case(case, settings, tmp_path, owner_clinician):
    settings.MEDIA_ROOT = tmp_path
    order = case.order
    order.diagnosis_codes = [DIAGNOSIS]
    order.scheduled_date = dt.date(2026, 12, 14)
    order.save()
    case.status = Status.APPROVED
    case.summary_text = SUMMARY
    case.authorization_number = "AUTH-77231"
    case.auth_effective_start = dt.date(2026, 12, 1)
    case.auth_effective_end = dt.date(2027, 2, 28)
    case.save()
    f.CaseEventFactory(case=case, message="Clinician note: " + SUMMARY)
    f.TaskFactory(case=case, role=Role.CLINICIAN, title="Payer asks: MRI findings for " + DIAGNOSIS)
    f.TaskFactory(case=case, role=Role.FRONT_DESK, title="Schedule the approved service")
    document_upload(
        case=case, actor=None, file=SimpleUploadedFile("x.pdf", f.PDF_BYTES, "application/pdf"), title="Office note"
    )
    return case


def test_front_desk_sees_scheduling_facts_only(client, front_desk, clinical_case):
    client.force_login(front_desk)
    response = client.get(reverse("cases:detail", args=[clinical_case.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    # the scheduling facts
    for fact in (clinical_case.patient.last_name, "AUTH-77231", "Dec 14, 2026", "Approved", clinical_case.order.code):
        assert fact in body, fact
    assert "Schedule the approved service" in body
    # nothing clinical: no diagnosis, summary, documents, requirements, timeline, other roles' tasks
    for hidden in (DIAGNOSIS, SUMMARY, "Office note", "Payer asks", f'id="case-{clinical_case.pk}-timeline"'):
        assert hidden not in body, hidden
    assert "/documents/" not in body and "packet.pdf" not in body


def test_coordinator_still_sees_the_clinical_side(client, coordinator, clinical_case):
    client.force_login(coordinator)
    body = client.get(reverse("cases:detail", args=[clinical_case.pk])).content.decode()
    assert SUMMARY in body and "Office note" in body


def test_front_desk_cannot_download_documents_or_the_packet(client, front_desk, clinical_case):
    doc = clinical_case.documents.first()
    client.force_login(front_desk)
    assert client.get(reverse("cases:document", args=[clinical_case.pk, doc.pk])).status_code == 403
    assert client.get(reverse("cases:packet", args=[clinical_case.pk])).status_code == 403
    assert client.get(reverse("submission:case_submission", args=[clinical_case.pk])).status_code == 403


def test_a_front_desk_note_by_htmx_answers_with_the_scheduling_fragments(client, front_desk, clinical_case):
    client.force_login(front_desk)
    response = client.post(
        reverse("cases:note", args=[clinical_case.pk]), {"text": "Called: booked Dec 14"}, HTTP_HX_REQUEST="true"
    )
    # the page follows the case in place (no reload), with the scheduling page's fragments only
    assert response.status_code == 200 and "HX-Redirect" not in response
    body = response.content.decode()
    assert f'id="case-{clinical_case.pk}-header" hx-swap-oob="true"' in body
    assert SUMMARY not in body


@pytest.mark.parametrize("target", ["role:front_desk", "role:clinician", "role:admin", "front_desk_user", "clinician"])
def test_bulk_assign_refuses_people_and_roles_that_do_not_work_cases(
    client, manager, front_desk, owner_clinician, case, target
):
    to = {"front_desk_user": f"user:{front_desk.pk}", "clinician": f"user:{owner_clinician.pk}"}.get(target, target)
    client.force_login(manager)
    response = client.post(reverse("cases:bulk_assign"), {"cases": [case.pk], "to": to}, follow=True)
    case.refresh_from_db()
    assert case.assignee_id is None
    assert "coordinator" in response.content.decode().lower()


def test_bulk_assign_to_a_coordinator_still_works(client, manager, coordinator, case):
    client.force_login(manager)
    client.post(reverse("cases:bulk_assign"), {"cases": [case.pk], "to": f"user:{coordinator.pk}"})
    case.refresh_from_db()
    assert case.assignee_id == coordinator.pk
