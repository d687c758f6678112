"""The payer breaker has a clock: a half-open probe that never reports back, or that fails in any way,
opens the breaker again, and a payer's cases are not claimed while its probe is in flight (issue 21, 2)."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from cases.models import Status
from integrations.base import IntegrationError, PayerResponseUnreadable
from integrations.submission.breaker import HALF_OPEN_LIMIT, breaker_allows, payer_link
from integrations.submission.models import PayerLink
from integrations.submission.polling import case_poll, poll_claim_due
from tests.integrations.submission.conftest import ready_case


def _awaiting(practice, provider, n=1, **payer):
    first = ready_case(practice, provider, channel="scripted", **payer)
    cases = [first]
    for _ in range(n - 1):
        other = ready_case(practice, provider, channel="scripted")
        type(other).objects.filter(pk=other.pk).update(payer=first.payer)
        cases.append(other)
    type(first).objects.filter(pk__in=[c.pk for c in cases]).update(
        status=Status.SUBMITTED, next_poll_at=timezone.now() - timedelta(minutes=1)
    )
    return cases


def _cooled_down(payer) -> PayerLink:
    link = payer_link(payer)
    PayerLink.objects.filter(pk=link.pk).update(
        breaker_state=PayerLink.Breaker.OPEN,
        open_until=timezone.now() - timedelta(seconds=1),
        times_opened=1,
        consecutive_failures=5,
    )
    link.refresh_from_db()
    return link


def test_a_probe_that_never_reports_back_opens_the_breaker_again(practice, owner_provider, scripted):
    # Given a payer whose cool-down is over, and a worker that won the probe and then died
    (case,) = _awaiting(practice, owner_provider)
    link = _cooled_down(case.payer)
    assert breaker_allows(PayerLink.objects.get(pk=link.pk)) is True
    assert PayerLink.objects.get(pk=link.pk).probe_started_at is not None
    # While the probe may still be running, nobody else calls
    assert breaker_allows(PayerLink.objects.get(pk=link.pk)) is False
    # When no outcome arrived within the limit
    with time_machine.travel(timezone.now() + HALF_OPEN_LIMIT + timedelta(seconds=1), tick=False):
        link = PayerLink.objects.get(pk=link.pk)
        assert breaker_allows(link) is False
        link.refresh_from_db()
        # Then the breaker is open again, with the next (longer) cool-down
        assert link.breaker_state == PayerLink.Breaker.OPEN
        assert link.open_until > timezone.now() and link.times_opened == 2
        reopened_until = link.open_until
    # And after that cool-down a new probe goes through
    with time_machine.travel(reopened_until + timedelta(seconds=1), tick=False):
        assert breaker_allows(PayerLink.objects.get(pk=link.pk)) is True


@pytest.mark.parametrize(
    "error",
    [IntegrationError("payer refused the inquiry's shape", permanent=True), PayerResponseUnreadable("not a Bundle")],
    ids=["permanent", "unreadable"],
)
def test_every_failed_probe_opens_the_breaker_again(practice, owner_provider, scripted, monkeypatch, error):
    # Given a payer whose cool-down is over
    (case,) = _awaiting(practice, owner_provider)
    _cooled_down(case.payer)

    def fails(self, case, *, submission_key):
        raise error

    monkeypatch.setattr(scripted, "check_status", fails)
    # When the probe fails in a way that does not count against a working payer
    assert case_poll(case_id=case.pk) == "error"
    # Then the breaker is open again rather than half-open for ever
    link = PayerLink.objects.get(payer=case.payer)
    assert link.breaker_state == PayerLink.Breaker.OPEN and link.open_until > timezone.now()


def test_a_permanent_error_from_a_working_payer_does_not_count(practice, owner_provider, scripted, monkeypatch):
    (case,) = _awaiting(practice, owner_provider)

    def fails(self, case, *, submission_key):
        raise IntegrationError("400", permanent=True)

    monkeypatch.setattr(scripted, "check_status", fails)
    case_poll(case_id=case.pk)
    link = PayerLink.objects.get(payer=case.payer)
    assert link.breaker_state == PayerLink.Breaker.CLOSED and link.consecutive_failures == 0


def test_cases_of_a_payer_with_a_probe_in_flight_are_not_claimed(practice, owner_provider, scripted):
    # Given a payer whose probe is in flight, with three due cases
    cases = _awaiting(practice, owner_provider, n=3)
    link = _cooled_down(cases[0].payer)
    assert breaker_allows(link) is True
    # When the poll schedule runs
    # Then none of its cases is claimed (and so none is paused)
    assert poll_claim_due() == []
    # Until the probe's time limit has passed: then its cases are claimed, the breaker reopens, none is called
    with time_machine.travel(timezone.now() + HALF_OPEN_LIMIT + timedelta(seconds=1), tick=False):
        link.refresh_from_db()
        assert not breaker_allows(link)
        assert poll_claim_due() == []  # open again: still not claimed


def test_a_paused_case_is_not_claimed_again_every_minute(practice, owner_provider, scripted):
    # Given a payer whose cool-down just ended and two due cases; one poll wins the probe
    cases = _awaiting(practice, owner_provider, n=2)
    link = _cooled_down(cases[0].payer)
    assert breaker_allows(link) is True
    # When the other case is polled meanwhile (claimed before the probe started)
    assert case_poll(case_id=cases[1].pk) == "paused"
    cases[1].refresh_from_db()
    # Then its next check waits for the probe's outcome, not the next minute
    assert cases[1].next_poll_at >= link.probe_started_at + HALF_OPEN_LIMIT
