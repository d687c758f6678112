"""Each bucket of the sweep and its edges, with time frozen at the sweep moment."""

import datetime as dt

import pytest

from cases.models import Bucket, RequirementStatus, Status, SweepHoliday, Task
from cases.sweep.buckets import SweepContext, bucket_querysets, describe_items
from cases.sweep.services import sweep_run
from tests import factories as f
from tests.cases.conftest import LA, NY, WEDNESDAY_0730

SECOND = dt.timedelta(seconds=1)
MONDAY_0730 = dt.datetime(2026, 11, 23, 7, 30, tzinfo=NY)


def described(sweep, case, bucket=None):
    """The stored item of `case` (in `bucket`) with its summary and next step written."""
    items = sweep.items.filter(case=case)
    if bucket:
        items = items.filter(bucket=bucket)
    return describe_items(sweep, [items.get()])[0]


def buckets_of(case, now):
    ctx = SweepContext(case.practice, now)
    return {bucket for bucket, qs in bucket_querysets(ctx).items() if qs.filter(pk=case.pk).exists()}


@pytest.fixture
def now(time_machine):
    time_machine.move_to(WEDNESDAY_0730, tick=False)
    return WEDNESDAY_0730


def test_ready_case_is_ready_to_submit_with_approval_step(now, make_case):
    case = make_case(Status.READY)
    assert buckets_of(case, now) == {Bucket.READY_TO_SUBMIT}
    # practice requires manager approval by default, so the next step says so
    item = described(sweep_run(practice=case.practice), case)
    assert item.next_step.startswith("Approve the submission")


def test_gathering_case_with_gaps_is_missing_documentation_and_names_the_first_gap(now, make_case):
    case = make_case(Status.GATHERING)
    for position, text in enumerate(["Office note within 30 days", "X-ray report"]):
        req = f.RequirementFactory(description=text, position=position)
        RequirementStatus.objects.create(case=case, requirement=req, state=RequirementStatus.State.GAP)
    assert buckets_of(case, now) == {Bucket.MISSING_DOCUMENTATION}
    item = described(sweep_run(practice=case.practice), case)
    assert item.next_step == "Collect: Office note within 30 days and 1 more"
    # no PHI in the stored text
    assert case.patient.last_name not in item.summary + item.next_step
    assert case.patient.mrn not in item.summary + item.next_step


def test_pended_case_needs_documentation(now, make_case):
    case = make_case(Status.PENDED, submitted_at=now - dt.timedelta(hours=2), next_poll_at=now + dt.timedelta(hours=4))
    assert buckets_of(case, now) == {Bucket.MISSING_DOCUMENTATION}


def test_payer_follow_up_exactly_at_the_decision_deadline(now, make_case):
    # given a submitted case polled automatically (next poll in the future) and moved recently
    recent = {"status_changed_at": now - dt.timedelta(hours=1), "next_poll_at": now + dt.timedelta(hours=4)}
    at_deadline = make_case(Status.SUBMITTED, decision_due_at=now, **recent)
    just_before = make_case(Status.SUBMITTED, decision_due_at=now + SECOND, **recent)
    # then the deadline reached counts, one second before does not
    assert Bucket.PAYER_FOLLOW_UP in buckets_of(at_deadline, now)
    assert Bucket.PAYER_FOLLOW_UP not in buckets_of(just_before, now)
    item = described(sweep_run(practice=at_deadline.practice), at_deadline, Bucket.PAYER_FOLLOW_UP)
    assert item.next_step.startswith("Past the decision deadline of Nov 18")


def test_payer_follow_up_after_the_payer_cadence_without_a_scheduled_poll(now, make_case):
    payer = f.PayerFactory(name="Cadence Health", poll_interval_hours=8)
    due = now + dt.timedelta(days=5)
    exactly = make_case(
        Status.SUBMITTED, payer=payer, decision_due_at=due, status_changed_at=now - dt.timedelta(hours=8)
    )
    short = make_case(
        Status.SUBMITTED, payer=payer, decision_due_at=due, status_changed_at=now - dt.timedelta(hours=8) + SECOND
    )
    polled = make_case(
        Status.SUBMITTED,
        payer=payer,
        decision_due_at=due,
        status_changed_at=now - dt.timedelta(days=2),
        next_poll_at=now + dt.timedelta(hours=1),
    )
    assert Bucket.PAYER_FOLLOW_UP in buckets_of(exactly, now)
    assert Bucket.PAYER_FOLLOW_UP not in buckets_of(short, now)
    # an automatic poll is on its way: nothing for a person to do yet
    assert Bucket.PAYER_FOLLOW_UP not in buckets_of(polled, now)


def test_clinician_input_by_status_or_open_clinical_task(now, make_case):
    needs = make_case(Status.NEEDS_CLINICIAN)
    with_task = make_case(Status.GATHERING)
    Task.objects.create(case=with_task, kind=Task.Kind.PEER_TO_PEER, title="Peer-to-peer with the medical director")
    done_task = make_case(Status.GATHERING)
    Task.objects.create(case=done_task, kind=Task.Kind.CLINICIAN_INPUT, title="x", done_at=now)
    assert Bucket.CLINICIAN_INPUT in buckets_of(needs, now)
    assert Bucket.CLINICIAN_INPUT in buckets_of(with_task, now)
    assert Bucket.CLINICIAN_INPUT not in buckets_of(done_task, now)
    item = described(sweep_run(practice=with_task.practice), with_task, Bucket.CLINICIAN_INPUT)
    assert item.next_step.endswith("Peer-to-peer with the medical director")


def test_schedule_at_risk_uses_configured_turnaround_and_same_day_is_not_at_risk(now, make_case):
    # given a non-impacted payer with the default 14-day standard window and no decision history:
    # an unsubmitted case is expected to be decided on Dec 2 (local)
    payer = f.PayerFactory(name="Slow Mutual")
    before = make_case(Status.GATHERING, payer=payer, scheduled=dt.date(2026, 12, 1))
    same_day = make_case(Status.GATHERING, payer=payer, scheduled=dt.date(2026, 12, 2))
    past = make_case(Status.GATHERING, payer=payer, scheduled=dt.date(2026, 11, 17))
    decided = make_case(Status.APPROVED, payer=payer, scheduled=dt.date(2026, 11, 20))
    assert buckets_of(before, now) == {Bucket.MISSING_DOCUMENTATION, Bucket.SCHEDULE_AT_RISK}
    assert Bucket.SCHEDULE_AT_RISK not in buckets_of(same_day, now)
    assert Bucket.SCHEDULE_AT_RISK not in buckets_of(past, now)
    assert buckets_of(decided, now) == set()
    item = described(sweep_run(practice=before.practice), before, Bucket.SCHEDULE_AT_RISK)
    assert item.due_on == dt.date(2026, 12, 1)
    assert "expected decision (Dec 2)" in item.next_step


def test_schedule_at_risk_prefers_the_observed_median_turnaround(now, make_case):
    payer = f.PayerFactory(name="Quick Care")  # configured 14 days
    # given five recent decisions of 1, 2, 2, 3, 9 days: the median is 2 days
    for days in (1, 2, 2, 3, 9):
        make_case(
            Status.APPROVED,
            payer=payer,
            submitted_at=now - dt.timedelta(days=20),
            decided_at=now - dt.timedelta(days=20 - days),
        )
    at_risk = make_case(Status.READY, payer=payer, scheduled=dt.date(2026, 11, 19))
    safe = make_case(Status.READY, payer=payer, scheduled=dt.date(2026, 11, 20))
    # then expected = Nov 20: the Nov 19 appointment is at risk, the Nov 20 one is not (it would be on 14 days)
    assert Bucket.SCHEDULE_AT_RISK in buckets_of(at_risk, now)
    assert Bucket.SCHEDULE_AT_RISK not in buckets_of(safe, now)


def test_schedule_at_risk_compares_dates_in_the_practice_time_zone(time_machine, make_case, payer):
    # given a Los Angeles practice and a CMS-impacted payer (7 days standard), submitted so that the
    # expected decision is 07:30 UTC on Nov 21, which is 23:30 on Nov 20 in Los Angeles
    now = dt.datetime(2026, 11, 18, 7, 30, tzinfo=LA)
    time_machine.move_to(now, tick=False)
    submitted = dt.datetime(2026, 11, 14, 7, 30, tzinfo=dt.UTC)
    case = make_case(
        Status.SUBMITTED,
        payer=payer,
        scheduled=dt.date(2026, 11, 20),
        submitted_at=submitted,
        decision_due_at=submitted + dt.timedelta(days=7),
        next_poll_at=now + dt.timedelta(hours=1),
    )
    case.practice.time_zone = "America/Los_Angeles"
    case.practice.save()
    # then the appointment is on the expected decision's local day: not at risk (in UTC it would be)
    assert Bucket.SCHEDULE_AT_RISK not in buckets_of(case, now)
    case.order.scheduled_date = dt.date(2026, 11, 19)
    case.order.save()
    assert Bucket.SCHEDULE_AT_RISK in buckets_of(case, now)


def test_new_denials_since_the_previous_weekday_sweep_across_the_weekend(time_machine, make_case):
    # given Monday's sweep, the previous one was Friday 07:30
    time_machine.move_to(MONDAY_0730, tick=False)
    friday_sweep = dt.datetime(2026, 11, 20, 7, 30, tzinfo=NY)
    at_friday_sweep = make_case(Status.DENIED, decided_at=friday_sweep)
    after = make_case(Status.DENIED, decided_at=friday_sweep + SECOND, appeal_deadline=dt.date(2027, 1, 19))
    on_saturday = make_case(Status.DENIED, decided_at=dt.datetime(2026, 11, 21, 10, 0, tzinfo=NY))
    appealed = make_case(Status.APPEALED, decided_at=dt.datetime(2026, 11, 21, 10, 0, tzinfo=NY))
    assert Bucket.NEW_DENIALS not in buckets_of(at_friday_sweep, MONDAY_0730)
    assert Bucket.NEW_DENIALS in buckets_of(after, MONDAY_0730)
    assert Bucket.NEW_DENIALS in buckets_of(on_saturday, MONDAY_0730)
    assert Bucket.NEW_DENIALS not in buckets_of(appealed, MONDAY_0730)
    item = described(sweep_run(practice=after.practice), after, Bucket.NEW_DENIALS)
    assert item.due_on == dt.date(2027, 1, 19)
    assert "by Jan 19" in item.next_step


def test_new_denials_look_back_past_a_holiday(time_machine, make_case, practice):
    # given Friday is a holiday, Monday's sweep looks back to Thursday 07:30
    SweepHoliday.objects.create(practice=practice, date=dt.date(2026, 11, 20), name="Day after Thanksgiving")
    time_machine.move_to(MONDAY_0730, tick=False)
    thursday_noon = make_case(Status.DENIED, decided_at=dt.datetime(2026, 11, 19, 12, 0, tzinfo=NY))
    assert Bucket.NEW_DENIALS in buckets_of(thursday_noon, MONDAY_0730)


def test_stalled_exactly_at_the_payer_threshold(now, make_case):
    payer = f.PayerFactory(name="Sticky Health", stall_threshold_hours=72, poll_interval_hours=200)
    far = {"decision_due_at": now + dt.timedelta(days=10), "next_poll_at": now + dt.timedelta(hours=1)}
    exactly = make_case(Status.SUBMITTED, payer=payer, status_changed_at=now - dt.timedelta(hours=72), **far)
    not_yet = make_case(Status.SUBMITTED, payer=payer, status_changed_at=now - dt.timedelta(hours=72) + SECOND, **far)
    quick = f.PayerFactory(name="Strict Health", stall_threshold_hours=24)
    strict = make_case(Status.GATHERING, payer=quick, status_changed_at=now - dt.timedelta(hours=25))
    assert buckets_of(exactly, now) == {Bucket.STALLED}
    assert buckets_of(not_yet, now) == set()
    assert Bucket.STALLED in buckets_of(strict, now)


def test_closed_and_other_practice_cases_are_never_swept(now, make_case, other_practice):
    closed = make_case(Status.CLOSED, status_changed_at=now - dt.timedelta(days=30))
    elsewhere = f.CaseFactory(
        order=f.OrderFactory(practice=other_practice), status=Status.READY, status_changed_at=now - dt.timedelta(days=9)
    )
    sweep = sweep_run(practice=closed.practice)
    assert not sweep.items.filter(case__in=[closed, elsewhere]).exists()


def test_sweep_stores_counts_and_one_item_per_case_and_bucket(now, make_case):
    make_case(Status.READY)
    make_case(Status.READY)
    make_case(Status.GATHERING, status_changed_at=now - dt.timedelta(days=5))
    sweep = sweep_run(practice=make_case(Status.NEW).practice)
    assert sweep.counts[Bucket.READY_TO_SUBMIT] == 2
    assert sweep.counts[Bucket.MISSING_DOCUMENTATION] == 1
    assert sweep.counts[Bucket.STALLED] == 1
    assert set(sweep.counts) == set(Bucket.values)
    assert sweep.items.count() == 4
