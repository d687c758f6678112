"""Faxing a submission: row first, the kept PDF is what the service fetched, delivery by verified
webhook applied monotonically, redials on busy, a permanent failure gives the coordinator a task."""

import random
import subprocess
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from cases.models import Status, Task
from cases.reference import case_reference
from integrations.fax.models import FaxAttempt, FaxWebhookEvent, OutboundFax, SandboxFax
from integrations.fax.sandbox import sandbox_report_due
from integrations.fax.services import fax_redial_due
from integrations.submission.models import Submission
from integrations.submission.services import submission_request
from tests.integrations.fax.conftest import post_event, signed

pytestmark = pytest.mark.django_db


@pytest.fixture
def submit(django_capture_on_commit_callbacks):
    def _submit(case, user):
        with django_capture_on_commit_callbacks(execute=True):
            submission = submission_request(case=case, actor=user)
        submission.refresh_from_db()
        return submission

    return _submit


def test_send_writes_rows_and_the_service_fetches_the_kept_pdf(submit, fax_case, coordinator):
    submission = submit(fax_case, coordinator)

    assert submission.state == Submission.State.HANDED_OVER
    outbound = OutboundFax.objects.get(submission=submission)
    attempt = outbound.dials.get()
    assert attempt.progress == FaxAttempt.Progress.QUEUED and attempt.vendor_fax_id
    assert outbound.to_number == "+15550107701"
    kept = outbound.document.file.open("rb").read()
    # What the (sandbox) service fetched through the media URL is byte for byte the kept document.
    assert bytes(SandboxFax.objects.get(vendor_fax_id=attempt.vendor_fax_id).content) == kept
    text = subprocess.run(["pdftotext", "-", "-"], input=kept, capture_output=True, check=True).stdout.decode()
    assert case_reference(fax_case.pk) in text  # the cover carries the reference an answer quotes
    fax_case.refresh_from_db()
    assert fax_case.status == Status.READY  # not with the payer until the fax is delivered


def test_status_webhooks_in_any_order_give_one_final_state(submit, fax_case, coordinator, client):
    submission = submit(fax_case, coordinator)
    fax_id = OutboundFax.objects.get(submission=submission).dials.get().vendor_fax_id
    base = {"fax_id": fax_id, "to": "+15550107701", "direction": "outbound"}
    events = [
        signed("fax.queued", base),
        signed("fax.media.processed", base),
        signed("fax.sending.started", base),
        signed("fax.delivered", {**base, "page_count": 4, "call_duration_secs": 95}),
    ]
    random.Random(7).shuffle(events)
    events.insert(0, events[-1])  # and one delivered twice (the service redelivers)

    for body, headers in events:
        assert post_event(client, body, headers).status_code == 204

    attempt = FaxAttempt.objects.get(vendor_fax_id=fax_id)
    assert attempt.progress == FaxAttempt.Progress.DELIVERED
    outbound = attempt.outbound
    assert outbound.state == OutboundFax.State.DELIVERED
    assert (outbound.pages_sent, outbound.call_seconds, outbound.remote_number) == (4, 95, "+15550107701")
    submission.refresh_from_db()
    fax_case.refresh_from_db()
    assert submission.state == Submission.State.ACCEPTED
    assert fax_case.status == Status.SUBMITTED
    assert fax_case.events.filter(message__startswith="Fax delivered").count() == 1
    assert FaxWebhookEvent.objects.count() == 4  # the redelivery was not stored again


def test_a_late_failure_after_delivery_changes_nothing(submit, fax_case, coordinator, client):
    submission = submit(fax_case, coordinator)
    fax_id = OutboundFax.objects.get(submission=submission).dials.get().vendor_fax_id
    post_event(client, *signed("fax.delivered", {"fax_id": fax_id, "page_count": 3}))
    post_event(client, *signed("fax.failed", {"fax_id": fax_id, "failure_reason": "user_busy"}))

    assert OutboundFax.objects.get().state == OutboundFax.State.DELIVERED
    assert not Task.objects.filter(case=fax_case, kind=Task.Kind.SUBMIT, done_at__isnull=True).exists()


def test_forged_webhook_is_refused_and_changes_nothing(submit, fax_case, coordinator, client):
    submission = submit(fax_case, coordinator)
    fax_id = OutboundFax.objects.get(submission=submission).dials.get().vendor_fax_id
    body, headers = signed("fax.delivered", {"fax_id": fax_id, "page_count": 4}, key=b"\x01" * 32)

    assert post_event(client, body, headers).status_code == 403
    # Tampered body with a real signature, and no signature at all.
    good_body, good_headers = signed("fax.delivered", {"fax_id": fax_id, "page_count": 4})
    assert post_event(client, good_body.replace(b"4", b"5"), good_headers).status_code == 403
    assert post_event(client, good_body, {}).status_code == 403
    # A real signature from long ago (a replay).
    with time_machine.travel(timezone.now() - timedelta(hours=1)):
        old_body, old_headers = signed("fax.delivered", {"fax_id": fax_id, "page_count": 4})
    assert post_event(client, old_body, old_headers).status_code == 403

    assert FaxWebhookEvent.objects.count() == 0
    assert FaxAttempt.objects.get(vendor_fax_id=fax_id).progress == FaxAttempt.Progress.QUEUED
    fax_case.refresh_from_db()
    assert fax_case.status == Status.READY


def test_busy_is_redialled_on_a_backoff_then_delivered(submit, fax_case, coordinator):
    fax_case.payer.fax = "(555) 010-0001"  # the sandbox's always-busy line
    fax_case.payer.save()
    submission = submit(fax_case, coordinator)
    sandbox_report_due()

    outbound = OutboundFax.objects.get(submission=submission)
    assert outbound.state == OutboundFax.State.RETRY and outbound.failure_reason == "user_busy"
    assert fax_redial_due() == 0  # not before the backoff
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        assert fax_redial_due() == 1
        SandboxFax.objects.filter(reported_at__isnull=True).update(outcome="delivered")  # the line is free now
        sandbox_report_due()

    outbound.refresh_from_db()
    assert outbound.attempts == 2 and outbound.state == OutboundFax.State.DELIVERED
    fax_case.refresh_from_db()
    assert fax_case.status == Status.SUBMITTED


def test_busy_on_every_dial_fails_with_a_coordinator_task(submit, fax_case, coordinator):
    fax_case.payer.fax = "(555) 010-0001"
    fax_case.payer.save()
    submission = submit(fax_case, coordinator)
    now = timezone.now()
    for i in range(1, 6):
        with time_machine.travel(now + timedelta(hours=i)):
            fax_redial_due()
            sandbox_report_due()

    outbound = OutboundFax.objects.get(submission=submission)
    assert outbound.state == OutboundFax.State.FAILED and outbound.attempts == 4
    submission.refresh_from_db()
    assert submission.state == Submission.State.FAILED
    task = Task.objects.get(case=fax_case, kind=Task.Kind.SUBMIT, done_at__isnull=True)
    assert "user_busy" in task.detail


def test_a_number_that_is_no_fax_line_fails_at_once(submit, fax_case, coordinator):
    fax_case.payer.fax = "(555) 010-0002"
    fax_case.payer.save()
    submission = submit(fax_case, coordinator)
    sandbox_report_due()

    assert OutboundFax.objects.get().attempts == 1
    submission.refresh_from_db()
    assert submission.state == Submission.State.FAILED
    assert Task.objects.filter(case=fax_case, kind=Task.Kind.SUBMIT, done_at__isnull=True).exists()
    fax_case.refresh_from_db()
    assert fax_case.status == Status.READY


def test_no_fax_number_is_a_permanent_failure(submit, fax_case, coordinator):
    fax_case.payer.fax = ""
    fax_case.payer.save()
    submission = submit(fax_case, coordinator)
    assert submission.state == Submission.State.FAILED
    assert not OutboundFax.objects.exists()


def test_media_url_serves_the_kept_pdf_only_while_sending(submit, fax_case, coordinator, client):
    submission = submit(fax_case, coordinator)
    outbound = OutboundFax.objects.get(submission=submission)
    url = f"/integrations/fax/media/{outbound.media_token}.pdf"

    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == outbound.document.file.open("rb").read()
    assert client.get("/integrations/fax/media/not-a-token.pdf").status_code == 404
    sandbox_report_due()
    assert client.get(url).status_code == 404


def test_a_delivered_fax_is_followed_up_at_the_payers_follow_up_time(submit, fax_case, coordinator):
    from integrations.submission.polling import case_poll

    fax_case.payer.follow_up_hours = 48
    fax_case.payer.save()
    submit(fax_case, coordinator)
    sandbox_report_due()
    fax_case.refresh_from_db()
    assert fax_case.status == Status.SUBMITTED
    follow_ups = Task.objects.filter(case=fax_case, dedupe_key__startswith="follow-up-")

    with time_machine.travel(timezone.now() + timedelta(hours=9)):  # past the 8 h poll, before 48 h
        case_poll(case_id=fax_case.pk)
    assert not follow_ups.exists()
    with time_machine.travel(timezone.now() + timedelta(hours=49)):
        case_poll(case_id=fax_case.pk)
    assert follow_ups.count() == 1
