"""Answering a pended request and cancelling, over real HTTP against the app's sandbox payer (live_server).

The staff services (`cases.services.case_send_update`, `case_cancel`) are the
seam; the background send is called as the task calls it.
"""

import threading
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from cases.actions import case_cancel, case_send_update
from cases.documents import document_upload
from cases.models import CaseEvent, Status, Task
from cases.services import ActionRefused
from integrations.pas.models import SandboxClaim
from integrations.submission import tasks
from integrations.submission.models import Exchange, Submission
from integrations.submission.polling import case_poll
from integrations.submission.services import SUBMIT_MAX_ATTEMPTS, submission_request, submission_send
from tests import factories as f

pytestmark = pytest.mark.django_db(transaction=True)


def _messages(case, kind=None):
    events = case.events.all() if kind is None else case.events.filter(kind=kind)
    return list(events.order_by("pk").values_list("message", flat=True))


def _upload(case, user, settings, tmp_path, title="Office note documenting functional limitation"):
    settings.MEDIA_ROOT = tmp_path
    return document_upload(
        case=case, actor=user, file=SimpleUploadedFile("n.pdf", f.PDF_BYTES, "application/pdf"), title=title
    )


@pytest.fixture
def pended(sandboxed, pas_case, coordinator):
    """A case the sandbox pended at once (A4), then decides updates only after an hour."""
    sandboxed.approve_weight, sandboxed.pend_weight = 0, 1
    sandboxed.save()
    first = submission_request(case=pas_case, actor=coordinator)
    submission_send(submission_id=first.pk)
    pas_case.refresh_from_db()
    assert pas_case.status == Status.PENDED
    sandboxed.approve_weight, sandboxed.pend_weight, sandboxed.decision_delay_seconds = 1, 1, 3600
    sandboxed.save()
    return pas_case


def test_update_answers_the_pend_and_the_payer_decides_it(pended, coordinator, settings, tmp_path):
    first = Submission.objects.get(case=pended)
    doc = _upload(pended, coordinator, settings, tmp_path)
    update = case_send_update(case=pended, actor=coordinator, message="Limitation is documented in the note.")
    assert update.kind == Submission.Kind.UPDATE and update.replaces_key == first.idempotency_key
    # The payer's information request is answered: its task is closed.
    assert not pended.tasks.filter(kind=Task.Kind.ANSWER_INFO_REQUEST, done_at__isnull=True).exists()
    assert submission_send(submission_id=update.pk).state == Submission.State.ACCEPTED
    pended.refresh_from_db()
    assert pended.status == Status.SUBMITTED  # pended → submitted on the payer's receipt
    moves = list(pended.events.filter(kind=CaseEvent.Kind.STATUS).order_by("pk").values_list("to_status", flat=True))
    assert moves[-2:] == [Status.PENDED, Status.SUBMITTED]
    assert "Additional information sent to" in " ".join(_messages(pended, CaseEvent.Kind.SUBMISSION))
    # The sandbox got a Claim Update naming the first request, with the new document and the message.
    row = SandboxClaim.objects.get(claim_identifier=update.idempotency_key)
    claim = row.claim["claim"]
    assert claim["related"][0]["claim"]["identifier"]["value"] == first.idempotency_key
    added = [i for i in claim["supportingInfo"] if i.get("extension")]
    # added: the new document, the summary redrafted from it (the draft follows its evidence, cases/readiness.py)
    # and staff's message
    assert [i.get("valueString") for i in added] == [None, None, "Limitation is documented in the note."]
    assert [e["document"] for e in Submission.objects.get(pk=update.pk).sent_supporting if "document" in e] == [doc.pk]
    # Polls now ask about the update: queued, then its decision.
    assert case_poll(case_id=pended.pk) == "no change"
    inquiry = Exchange.objects.filter(case=pended, operation="inquire").latest("pk")
    assert inquiry.response["entry"][0]["resource"]["identifier"][0]["value"] == f"SBX-{row.pk:06d}"
    # Decided now (not earlier than the pend it answers: an older answer would be ignored).
    SandboxClaim.objects.filter(pk=row.pk).update(decide_at=timezone.now())
    assert case_poll(case_id=pended.pk) == "approved"  # the update draw never pends again
    pended.refresh_from_db()
    assert pended.status == Status.APPROVED and pended.authorization_number == f"AUTH-{row.pk:06d}"


def test_update_decided_at_once_when_the_payer_is_quick(pended, coordinator, sandboxed, settings, tmp_path, q_sync):
    sandboxed.decision_delay_seconds = 0
    sandboxed.save()
    _upload(pended, coordinator, settings, tmp_path)
    case_send_update(case=pended, actor=coordinator)  # q sync: sent on commit
    pended.refresh_from_db()
    assert pended.status == Status.APPROVED


def test_pressing_twice_makes_one_update(pended, coordinator, manager, settings, tmp_path):
    _upload(pended, coordinator, settings, tmp_path)
    first = case_send_update(case=pended, actor=coordinator, message="See the note.")
    second = case_send_update(case=pended, actor=manager, message="See the note.")
    assert first.pk == second.pk
    assert Submission.objects.filter(case=pended, kind=Submission.Kind.UPDATE).count() == 1
    assert pended.events.filter(kind=CaseEvent.Kind.NOTE).count() == 1


def test_update_refused_until_something_was_added(pended, coordinator):
    with pytest.raises(ActionRefused, match="Attach a document or write"):
        case_send_update(case=pended, actor=coordinator, message="   ")
    assert Submission.objects.filter(case=pended).count() == 1


def test_update_refused_unless_pended(pas_case, coordinator):
    with pytest.raises(ActionRefused, match="pended"):
        case_send_update(case=pas_case, actor=coordinator, message="x")


@pytest.fixture
def with_payer(sandboxed, pas_case, coordinator):
    """A submitted case the sandbox has not decided yet."""
    sandboxed.decision_delay_seconds = 3600
    sandboxed.save()
    sub = submission_request(case=pas_case, actor=coordinator)
    submission_send(submission_id=sub.pk)
    pas_case.refresh_from_db()
    assert pas_case.status == Status.SUBMITTED
    return pas_case


def test_cancel_is_sent_to_the_payer_and_confirmed(with_payer, coordinator):
    case_cancel(case=with_payer, actor=coordinator, reason="Order withdrawn by the surgeon")
    with_payer.refresh_from_db()
    assert with_payer.status == Status.CANCELLED  # locally at once
    cancel = Submission.objects.get(case=with_payer, kind=Submission.Kind.CANCEL)
    first = Submission.objects.get(case=with_payer, kind=Submission.Kind.REQUEST)
    assert cancel.state == Submission.State.QUEUED and cancel.replaces_key == first.idempotency_key
    # The task retried (redelivered) sends once.
    assert tasks.submit(cancel.pk) == Submission.State.ACCEPTED
    assert tasks.submit(cancel.pk) == "not due"
    cancel.refresh_from_db()
    assert cancel.outcome == "cancelled"
    assert Exchange.objects.filter(case=with_payer, operation="cancel").count() == 1
    # The sandbox took it as a cancel of the first request, which now answers cancelled too.
    assert SandboxClaim.objects.get(claim_identifier=cancel.idempotency_key).review_action == "C"
    assert SandboxClaim.objects.get(claim_identifier=first.idempotency_key).review_action == "C"
    said = " ".join(_messages(with_payer))
    assert "Cancellation sent to" in said and "confirmed the cancellation (C)" in said
    assert not with_payer.tasks.filter(done_at__isnull=True).exists()


def test_payer_down_keeps_the_case_cancelled_and_retries(with_payer, sandboxed, coordinator):
    sandboxed.error_rate = 1.0
    sandboxed.save()
    case_cancel(case=with_payer, actor=coordinator, reason="Patient moved away")
    cancel = Submission.objects.get(case=with_payer, kind=Submission.Kind.CANCEL)
    submission_send(submission_id=cancel.pk)
    cancel.refresh_from_db()
    with_payer.refresh_from_db()
    assert with_payer.status == Status.CANCELLED
    assert cancel.state == Submission.State.RETRY and "503" in cancel.error
    assert cancel.next_attempt_at > timezone.now()
    assert "Cancellation attempt 1 did not go through" in " ".join(_messages(with_payer))
    # The payer is back: the scheduled retry goes through.
    sandboxed.error_rate = 0.0
    sandboxed.save()
    Submission.objects.filter(pk=cancel.pk).update(next_attempt_at=timezone.now())
    assert tasks.send_due_submissions() == 1  # enqueued (ORM broker); run it as the worker would
    submission_send(submission_id=cancel.pk)
    cancel.refresh_from_db()
    assert cancel.state == Submission.State.ACCEPTED and cancel.outcome == "cancelled"


def test_cancel_given_up_asks_staff_to_call_the_payer(with_payer, sandboxed, coordinator):
    sandboxed.error_rate = 1.0
    sandboxed.save()
    case_cancel(case=with_payer, actor=coordinator, reason="Duplicate order")
    cancel = Submission.objects.get(case=with_payer, kind=Submission.Kind.CANCEL)
    Submission.objects.filter(pk=cancel.pk).update(attempts=SUBMIT_MAX_ATTEMPTS - 1)
    submission_send(submission_id=cancel.pk)
    cancel.refresh_from_db()
    assert cancel.state == Submission.State.FAILED
    task = with_payer.tasks.get(done_at__isnull=True)
    assert task.title == f"Call {with_payer.payer} to cancel the request"
    assert cancel.replaces_key in task.detail
    assert f"Cancellation failed after {SUBMIT_MAX_ATTEMPTS} attempt(s)" in " ".join(_messages(with_payer))
    with_payer.refresh_from_db()
    assert with_payer.status == Status.CANCELLED


def test_cancel_of_a_ready_case_withdraws_its_unsent_submission(sandboxed, pas_case, coordinator):
    sub = submission_request(case=pas_case, actor=coordinator)  # queued, not sent yet
    case_cancel(case=pas_case, actor=coordinator, reason="Not needed")
    sub.refresh_from_db()
    assert sub.state == Submission.State.FAILED and sub.error.startswith("Withdrawn")
    assert submission_send(submission_id=sub.pk) is None
    assert not Submission.objects.filter(case=pas_case, kind=Submission.Kind.CANCEL).exists()
    assert not SandboxClaim.objects.exists() and not Exchange.objects.exists()


def test_cancel_waits_for_a_request_still_on_the_wire(with_payer, coordinator):
    # A second request (here: a row in SENDING) is being sent while staff cancel.
    on_wire = Submission.objects.create(
        case=with_payer, channel="pas", idempotency_key="on-the-wire", state=Submission.State.SENDING, attempts=1
    )
    case_cancel(case=with_payer, actor=coordinator, reason="Withdrawn")
    cancel = Submission.objects.get(case=with_payer, kind=Submission.Kind.CANCEL)
    submission_send(submission_id=cancel.pk)
    cancel.refresh_from_db()
    assert cancel.state == Submission.State.RETRY and cancel.attempts == 0
    assert not Exchange.objects.filter(operation="cancel").exists()
    Submission.objects.filter(pk=on_wire.pk).update(state=Submission.State.FAILED)
    Submission.objects.filter(pk=cancel.pk).update(next_attempt_at=timezone.now())
    submission_send(submission_id=cancel.pk)
    cancel.refresh_from_db()
    assert cancel.state == Submission.State.ACCEPTED and cancel.attempts == 1


def test_two_staff_at_once_make_one_update(pas_case, coordinator, manager, settings, tmp_path, postgres_only):
    # Real threads on their own connections: the case row lock serializes them.
    pas_case.status = Status.PENDED
    pas_case.status_changed_at = timezone.now() - timedelta(minutes=5)
    pas_case.save()
    _upload(pas_case, coordinator, settings, tmp_path)
    start = threading.Barrier(2)
    results = [None, None]

    def press(index, user):
        try:
            start.wait(timeout=5)
            results[index] = case_send_update(case=pas_case, actor=user, message="See the note.").pk
        except Exception as exc:  # the outcome is what we assert on
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=press, args=(i, u)) for i, u in enumerate((coordinator, manager))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert results[0] == results[1] and isinstance(results[0], int), results
    assert Submission.objects.filter(case=pas_case, kind=Submission.Kind.UPDATE).count() == 1
    assert pas_case.events.filter(kind=CaseEvent.Kind.NOTE).count() == 1


def test_sandbox_refuses_updates_of_decided_or_unknown_requests(sandboxed, pas_case, coordinator):
    from integrations.base import IntegrationError
    from integrations.pas.channel import PasChannel

    sub = submission_request(case=pas_case, actor=coordinator)
    submission_send(submission_id=sub.pk)  # approved at once
    with pytest.raises(IntegrationError) as err:
        PasChannel().submit(pas_case, submission_key="u-1", replaces_key=sub.idempotency_key)
    assert err.value.permanent and "HTTP 422" in str(err.value) and "new request" in str(err.value)
    with pytest.raises(IntegrationError) as err:
        PasChannel().submit(pas_case, submission_key="u-2", replaces_key="never-sent")
    assert err.value.permanent and "HTTP 400" in str(err.value)
    assert not SandboxClaim.objects.filter(claim_identifier__in=["u-1", "u-2"]).exists()
