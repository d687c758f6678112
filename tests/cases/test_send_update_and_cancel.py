"""Answering a pended request and cancelling on channels worked by people (portal, fax, X12),
and the case page's "Send additional information" button.

The PAS side (Claim Update, cancel over HTTP) is in tests/integrations/pas/.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from cases import actions, documents
from cases import services as s
from cases.models import CaseEvent, Status, Task
from integrations.submission.models import Submission
from tests import factories as f


@pytest.fixture
def pended_case(case, coordinator):
    """A portal case the payer pended (recorded by hand), with its information-request task."""
    case.status = Status.SUBMITTED
    case.save(update_fields=["status"])
    actions.case_record_outcome(case=case, actor=coordinator, outcome="pended", note="Send the PT notes.")
    case.refresh_from_db()
    assert case.status == Status.PENDED
    return case


def _upload(case, user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return documents.document_upload(
        case=case, actor=user, file=SimpleUploadedFile("pt.pdf", f.PDF_BYTES, "application/pdf"), title="PT notes"
    )


def test_manual_channel_update_becomes_a_coordinator_task(pended_case, coordinator, settings, tmp_path):
    _upload(pended_case, coordinator, settings, tmp_path)
    update = actions.case_send_update(case=pended_case, actor=coordinator, message="Six weeks of PT attached.")
    # The update is a row like any channel's, waiting with staff; the person's task says what to send.
    assert update.kind == Submission.Kind.UPDATE and update.state == Submission.State.WITH_STAFF
    task = pended_case.tasks.get(kind=Task.Kind.SUBMIT)
    assert task.role == "coordinator" and task.is_open
    assert task.title == f"Send the additional information to {pended_case.payer} (portal)"
    assert "Six weeks of PT attached." in task.detail and "1 document(s)" in task.detail
    assert not pended_case.tasks.filter(kind=Task.Kind.ANSWER_INFO_REQUEST, done_at__isnull=True).exists()
    messages = list(pended_case.events.values_list("message", flat=True))
    assert any(m.startswith("Sending additional information to") and "portal, by hand" in m for m in messages)
    assert "Information for the payer: Six weeks of PT attached." in messages
    # Pressing again gives the same update back and makes no second task.
    assert actions.case_send_update(case=pended_case, actor=coordinator, message="again") == update
    assert pended_case.tasks.filter(kind=Task.Kind.SUBMIT).count() == 1
    # Once sent by hand, the coordinator records it: pended → submitted, the task closes, the row is accepted.
    actions.case_record_outcome(case=pended_case, actor=coordinator, outcome="submitted")
    pended_case.refresh_from_db()
    update.refresh_from_db()
    assert pended_case.status == Status.SUBMITTED and update.state == Submission.State.ACCEPTED
    assert not pended_case.tasks.filter(kind=Task.Kind.SUBMIT, done_at__isnull=True).exists()


def test_update_needs_something_new_since_the_pend(pended_case, coordinator, settings, tmp_path):
    doc = _upload(pended_case, coordinator, settings, tmp_path)
    # Uploaded before the payer asked: not an answer to its request.
    type(doc).objects.filter(pk=doc.pk).update(created_at=pended_case.status_changed_at - timezone.timedelta(hours=1))
    with pytest.raises(s.ActionRefused, match="Attach a document or write the information"):
        actions.case_send_update(case=pended_case, actor=coordinator)
    assert not pended_case.tasks.filter(kind=Task.Kind.SUBMIT).exists()


def test_update_refuses_an_unattested_summary(pended_case, coordinator):
    pended_case.summary_text = "Edited after the pend"
    pended_case.save()
    with pytest.raises(s.ActionRefused, match="summary not attested"):
        actions.case_send_update(case=pended_case, actor=coordinator, message="x")


@pytest.mark.parametrize("status", [Status.SUBMITTED, Status.PENDED, Status.APPEALED])
def test_cancel_on_a_manual_channel_asks_staff_to_call_the_payer(case, coordinator, status):
    case.status = status
    case.save(update_fields=["status"])
    actions.case_cancel(case=case, actor=coordinator, reason="Order withdrawn")
    case.refresh_from_db()
    assert case.status == Status.CANCELLED
    task = case.tasks.get(done_at__isnull=True)
    assert task.title == f"Call {case.payer} to cancel the request" and "Order withdrawn" in task.detail
    assert case.events.filter(kind=CaseEvent.Kind.TASK, message__startswith="Task: Call").count() == 1


def test_cancel_before_submission_needs_no_call(case, coordinator):
    case.status = Status.READY
    case.save(update_fields=["status"])
    actions.case_cancel(case=case, actor=coordinator, reason="Not needed")
    assert not case.tasks.filter(done_at__isnull=True).exists()


def _page(client, user, case):
    client.force_login(user)
    return client.get(reverse("cases:detail", args=[case.pk])).content.decode()


def test_button_shown_to_coordinator_and_manager_on_a_pended_case(
    client, pended_case, coordinator, manager, owner_clinician
):
    url = reverse("cases:send_update", args=[pended_case.pk])
    assert url in _page(client, coordinator, pended_case)
    assert url in _page(client, manager, pended_case)
    assert url not in _page(client, owner_clinician, pended_case)


def test_button_hidden_unless_pended(client, case, coordinator):
    case.status = Status.SUBMITTED
    case.save(update_fields=["status"])
    assert reverse("cases:send_update", args=[case.pk]) not in _page(client, coordinator, case)


def test_button_sends_through_the_view(client, pended_case, coordinator, settings, tmp_path):
    _upload(pended_case, coordinator, settings, tmp_path)
    client.force_login(coordinator)
    response = client.post(
        reverse("cases:send_update", args=[pended_case.pk]), {"message": "PT notes attached."}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and "Additional information on its way" in response.content.decode()
    assert pended_case.tasks.filter(kind=Task.Kind.SUBMIT, done_at__isnull=True).count() == 1
