"""The schedule fires once per weekday at each practice's local sweep time, and never twice."""

import datetime as dt

import pytest
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import Schedule
from django_q.scheduler import scheduler

from cases.models import Sweep, SweepHoliday
from cases.sweep.services import STALE_CLAIM, sweep_claim_day
from cases.tasks import run_due_sweeps
from tests import factories as f
from tests.cases.conftest import LA, NY, WEDNESDAY_0730

pytestmark = pytest.mark.django_db


def scheduled(practice):
    return Sweep.objects.filter(practice=practice, trigger=Sweep.Trigger.SCHEDULED)


def test_migration_creates_the_every_minute_tick():
    schedule = Schedule.objects.get(name="sweep: run due sweeps")
    assert schedule.func == "cases.tasks.run_due_sweeps"
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)


def test_fires_at_0730_local_once_and_not_again_after_a_restart(time_machine, practice):
    time_machine.move_to(WEDNESDAY_0730 - dt.timedelta(seconds=1), tick=False)
    assert run_due_sweeps() == 0
    time_machine.move_to(WEDNESDAY_0730, tick=False)
    assert run_due_sweeps() == 1
    # later ticks the same day, and a "restarted" cluster ticking again, do nothing
    for minutes in (1, 2, 240):
        time_machine.move_to(WEDNESDAY_0730 + dt.timedelta(minutes=minutes), tick=False)
        assert run_due_sweeps() == 0
    sweep = scheduled(practice).get()
    assert sweep.run_date == dt.date(2026, 11, 18)
    assert sweep.state == Sweep.State.DONE
    # the next weekday fires again
    time_machine.move_to(WEDNESDAY_0730 + dt.timedelta(days=1), tick=False)
    assert run_due_sweeps() == 1
    assert scheduled(practice).count() == 2


def test_each_practice_fires_in_its_own_time_zone(time_machine, practice):
    west = f.PracticeFactory(name="Pacific Clinic", time_zone="America/Los_Angeles")
    time_machine.move_to(WEDNESDAY_0730, tick=False)  # 04:30 in Los Angeles
    run_due_sweeps()
    assert scheduled(practice).count() == 1 and scheduled(west).count() == 0
    time_machine.move_to(dt.datetime(2026, 11, 18, 7, 30, tzinfo=LA), tick=False)
    run_due_sweeps()
    assert scheduled(west).get().run_date == dt.date(2026, 11, 18)


def test_a_practice_specific_sweep_time_is_honoured(time_machine, practice):
    practice.sweep_time = dt.time(6, 45)
    practice.save()
    time_machine.move_to(dt.datetime(2026, 11, 18, 6, 45, tzinfo=NY), tick=False)
    assert run_due_sweeps() == 1


def test_no_sweep_on_weekends_or_holidays(time_machine, practice):
    saturday = dt.datetime(2026, 11, 21, 7, 30, tzinfo=NY)
    time_machine.move_to(saturday, tick=False)
    assert run_due_sweeps() == 0
    time_machine.move_to(saturday + dt.timedelta(days=1, hours=10), tick=False)
    assert run_due_sweeps() == 0
    SweepHoliday.objects.create(practice=None, date=dt.date(2026, 11, 26), name="Thanksgiving")
    time_machine.move_to(dt.datetime(2026, 11, 26, 9, 0, tzinfo=NY), tick=False)
    assert run_due_sweeps() == 0
    assert not Sweep.objects.exists()


def test_a_missed_sweep_runs_late_the_same_day_only(time_machine, practice):
    # the cluster was down at 07:30 and comes back at 10:05
    time_machine.move_to(WEDNESDAY_0730 + dt.timedelta(hours=2, minutes=35), tick=False)
    assert run_due_sweeps() == 1
    # down all of Thursday until after midnight Friday: Thursday is not replayed at 00:30
    time_machine.move_to(dt.datetime(2026, 11, 20, 0, 30, tzinfo=NY), tick=False)
    assert run_due_sweeps() == 0


def test_the_day_is_claimed_once_and_a_dead_claim_is_taken_over(time_machine, practice):
    time_machine.move_to(WEDNESDAY_0730, tick=False)
    day = dt.date(2026, 11, 18)
    first = sweep_claim_day(practice=practice, day=day, now=WEDNESDAY_0730)
    assert first is not None
    # a second worker racing for the same day gets nothing
    assert sweep_claim_day(practice=practice, day=day, now=WEDNESDAY_0730) is None
    # the first worker died (still running); before STALE_CLAIM nobody takes over, after it one does
    assert (
        sweep_claim_day(practice=practice, day=day, now=WEDNESDAY_0730 + STALE_CLAIM - dt.timedelta(seconds=1)) is None
    )
    later = WEDNESDAY_0730 + STALE_CLAIM + dt.timedelta(seconds=1)
    taken = sweep_claim_day(practice=practice, day=day, now=later)
    assert taken is not None and taken.pk == first.pk and taken.as_of == later
    assert sweep_claim_day(practice=practice, day=day, now=later) is None


def test_django_q_scheduler_runs_the_tick_and_a_replay_does_not_sweep_twice(time_machine, monkeypatch, practice):
    # given the real schedule row, run through django-q2's own scheduler with tasks executed inline
    monkeypatch.setattr(Conf, "SYNC", True)
    schedule = Schedule.objects.get(name="sweep: run due sweeps")
    schedule.next_run = WEDNESDAY_0730 - dt.timedelta(seconds=30)
    schedule.save()
    time_machine.move_to(WEDNESDAY_0730 + dt.timedelta(seconds=1), tick=False)
    broker = get_broker()
    scheduler(broker=broker)
    assert scheduled(practice).count() == 1
    # the scheduler fires again a minute later, and again for a replayed schedule: still one sweep
    time_machine.move_to(WEDNESDAY_0730 + dt.timedelta(minutes=1, seconds=2), tick=False)
    scheduler(broker=broker)
    Schedule.objects.filter(pk=schedule.pk).update(next_run=WEDNESDAY_0730)
    scheduler(broker=broker)
    assert scheduled(practice).count() == 1
