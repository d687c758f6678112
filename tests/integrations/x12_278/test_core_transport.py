"""CAQH CORE real time against the app's own sandbox clearinghouse over real HTTP (live_server)."""

import socket
import threading

import pytest

from cases.models import Status, Task
from integrations.base import DecisionStatus, IntegrationError
from integrations.submission.models import Exchange, Submission
from integrations.submission.services import submission_request, submission_send
from integrations.x12_278 import request as x12req
from integrations.x12_278 import transport
from integrations.x12_278.channel import interchange_for
from integrations.x12_278.models import Interchange, SandboxX12Request
from integrations.x12_278.parse import parse_278_response
from tests.integrations.x12_278.conftest import x12_case

pytestmark = pytest.mark.django_db(transaction=True)


def _built(case, route, key="k-1"):
    return interchange_for(
        case,
        route,
        kind=Interchange.Kind.REQUEST,
        key=key,
        body_for=lambda p: x12req.request_segments(case, trace=key, parties=p),
    )


def test_envelope_fields_and_a_decision(sandboxed, route, practice, owner_provider):
    case = x12_case(practice, owner_provider, route.payer, member_id="W1-A1")
    ix = _built(case, route)
    answer = transport.send(sandboxed, kind="278", payload=ix.payload, payload_id=ix.payload_id)
    assert answer.error_code == "Success"
    assert answer.payload_id == ix.payload_id
    assert answer.payload_type == "X12_278_Response_005010X217E1_2"
    decision = parse_278_response(answer.payload)
    assert decision.status == DecisionStatus.APPROVED and decision.authorization_number.startswith("SBX")


def test_wrong_payload_type_is_permanent(sandboxed, route, practice, owner_provider, monkeypatch):
    case = x12_case(practice, owner_provider, route.payer)
    ix = _built(case, route)
    real_fields = transport.core_fields
    monkeypatch.setattr(
        transport, "core_fields", lambda **kw: real_fields(**{**kw, "payload_type": "X12_837_Request_005010X222A1"})
    )
    with pytest.raises(IntegrationError, match="PayloadTypeIllegal") as err:
        transport.send(sandboxed, kind="278", payload=ix.payload, payload_id=ix.payload_id)
    assert err.value.permanent


def test_auth_failure_is_permanent(sandboxed, route, practice, owner_provider):
    case = x12_case(practice, owner_provider, route.payer)
    ix = _built(case, route)
    # we present a password the clearinghouse (the sandbox reads the stored one) does not know
    sandboxed.password = lambda: "not-the-password"
    with pytest.raises(IntegrationError, match="refused our credentials") as err:
        transport.send(sandboxed, kind="278", payload=ix.payload, payload_id=ix.payload_id)
    assert err.value.permanent


def test_missing_credentials_fail_loudly(route, clearinghouse, practice, owner_provider):
    case = x12_case(practice, owner_provider, route.payer)
    ix = _built(case, route)
    clearinghouse.password_encrypted = ""
    with pytest.raises(IntegrationError, match="no user name or password") as err:
        transport.send(clearinghouse, kind="278", payload=ix.payload, payload_id=ix.payload_id)
    assert err.value.permanent


def test_secrets_are_stored_encrypted(clearinghouse):
    assert "s3cret-pass" not in clearinghouse.password_encrypted
    assert clearinghouse.password() == "s3cret-pass"


@pytest.fixture
def silent_server():
    """A TCP server that accepts and never answers: a clearinghouse that times out."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(5)
    conns = []
    stop = threading.Event()

    def accept():
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/core"
    stop.set()
    thread.join(timeout=2)
    for c in conns:
        c.close()
    sock.close()


def test_timeout_is_retried_then_a_resend_is_recognised(
    route, clearinghouse, practice, owner_provider, coordinator, silent_server, settings, live_server
):
    # given a clearinghouse that does not answer in time
    settings.X12_READ_TIMEOUT_SECONDS = 0.5
    settings.SANDBOX_ENABLED = True
    clearinghouse.endpoint_url = silent_server
    clearinghouse.save()
    route.eligibility = False
    route.save()
    case = x12_case(practice, owner_provider, route.payer, member_id="W2-A1")
    sub = submission_request(case=case, actor=coordinator)
    # when the send times out, then it is retried later (not failed) and the interchange is kept
    submission_send(submission_id=sub.pk)
    sub.refresh_from_db()
    assert sub.state == Submission.State.RETRY and "did not answer in time" in sub.error
    first = Interchange.objects.get(kind="278", key=sub.idempotency_key)
    # when the clearinghouse is back and the retry goes out
    clearinghouse.endpoint_url = f"{live_server.url}/sandbox/clearinghouse/core/"
    clearinghouse.save()
    Submission.objects.filter(pk=sub.pk).update(next_attempt_at=sub.created_at)
    submission_send(submission_id=sub.pk)
    sub.refresh_from_db()
    case.refresh_from_db()
    # then the same interchange (control number, PayloadID) was sent, and the case is decided
    assert sub.state == Submission.State.ACCEPTED
    assert Interchange.objects.filter(kind="278", key=sub.idempotency_key).get().control_number == first.control_number
    assert case.status == Status.APPROVED
    # and sending those same bytes again gets the first answer back, not a second request
    again = transport.send(clearinghouse, kind="278", payload=first.payload, payload_id=first.payload_id)
    assert parse_278_response(again.payload).authorization_number == case.authorization_number
    assert SandboxX12Request.objects.count() == 1


def test_permanent_error_makes_a_staff_task(sandboxed, route, practice, owner_provider, coordinator, monkeypatch):
    # given credentials the clearinghouse refuses (a password rotated at the clearinghouse, not here)
    route.eligibility = False
    route.save()
    real_fields = transport.core_fields
    monkeypatch.setattr(transport, "core_fields", lambda **kw: real_fields(**{**kw, "password": "old-password"}))
    case = x12_case(practice, owner_provider, route.payer)
    # when the case is submitted
    sub = submission_request(case=case, actor=coordinator)
    submission_send(submission_id=sub.pk)
    # then the send fails at once (no retry), the case stays ready, and a coordinator has the task
    sub.refresh_from_db()
    case.refresh_from_db()
    assert sub.state == Submission.State.FAILED and "credentials" in sub.error and sub.attempts == 1
    assert case.status == Status.READY
    task = Task.objects.get(case=case, kind=Task.Kind.SUBMIT, done_at__isnull=True)
    assert "fix and resubmit" in task.title and "credentials" in task.detail
    assert Exchange.objects.filter(case=case, result="error").count() == 1


def test_a_payer_without_a_clearinghouse_fails_with_a_clear_task(x12_payer, practice, owner_provider, coordinator):
    case = x12_case(practice, owner_provider, x12_payer)
    sub = submission_request(case=case, actor=coordinator)
    submission_send(submission_id=sub.pk)
    sub.refresh_from_db()
    assert sub.state == Submission.State.FAILED and "no clearinghouse configured" in sub.error
    assert Task.objects.filter(case=case, kind=Task.Kind.SUBMIT, done_at__isnull=True).exists()


def test_an_x12_the_clearinghouse_does_not_take_gets_a_999_that_pyx12_validates(
    sandboxed, route, practice, owner_provider
):
    import pyx12.params
    import pyx12.x12n_document

    case = x12_case(practice, owner_provider, route.payer)
    ix = _built(case, route)
    wrong = ix.payload.replace("005010X217", "005010X999")
    answer = transport.send(sandboxed, kind="278", payload=wrong, payload_id="p-wrong-version")
    assert "ST*999*" in answer.payload and "IK5*R" in answer.payload
    # the sandbox's 999 is valid against pyx12's own 005010X231A1 map
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".x12", delete=False) as fh:
        fh.write(answer.payload)
    assert pyx12.x12n_document.x12n_document(pyx12.params.params(), fh.name, fd_997=None, fd_html=None)


def test_an_answer_for_another_request_is_not_applied(route, practice, owner_provider, monkeypatch):
    from integrations.x12_278 import channel as x12channel
    from integrations.x12_278.parse import X12ResponseError
    from tests.integrations.x12_278.test_parse_278_response import event, interchange

    route.eligibility = False
    route.save()
    case = x12_case(practice, owner_provider, route.payer)
    other = interchange(event("HCR*A1*AUTH1")).replace("TRN*2*case-7-sub-1*", "TRN*2*SOMEONE-ELSE*")
    exchange = Exchange.objects.create(case=case, payer=case.payer, operation="submit", url="x")
    monkeypatch.setattr(x12channel, "exchange_call", lambda *a, **k: (other, exchange))
    with pytest.raises(X12ResponseError, match="answers trace SOMEONE-ELSE"):
        x12channel.X12Channel().submit(case, submission_key="case-1-sub-1")
    exchange.refresh_from_db()
    assert exchange.result == "error"
