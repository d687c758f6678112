"""The simulation's clock and its scripted staff.

One `random.Random(seed)` draws the orders and charts up front and the staff model's chances in a fixed
order; the payers draw each request's answer from the seed and the request's identity (payer.py); every
query the staff model reads is ordered by what does not depend on which worker wrote first. So a seed
replays the same figures. The clock is frozen with time-machine and stepped an hour at a time; at each step
the cluster's scheduled functions are queued and run by the run's own `qcluster` workers (workers.py; the
workers see the same simulated time), and once they are done the staff act on what the app shows them —
their open tasks, the queue, the order list — spending minutes per touch; what the staff start (a
submission, an update) runs on the workers before the next step. With `workers=0` the tasks run inline
instead (django-q2 in sync mode: `async_task` runs the task at once, in this process).

With `manual=True` the same seed runs with the automation off: no detection (a coordinator reviews
every order), no packet assembly or gap check (each requirement is read in the chart by hand, and a
missing item is sometimes missed), no submission engine sends or polls (requests are keyed into the
payer's portal by hand and chased by phone), no escalation, no sweep and no patient texts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import time_machine
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from cases.actions import (
    ActionRefused,
    case_attest_summary,
    case_request_clinician_input,
    case_resolve_gap,
    case_send_update,
    case_submit,
    task_complete,
)
from cases.decisions import decision_apply
from cases.detection import case_open_for_order
from cases.models import (
    Coverage,
    Location,
    Order,
    Patient,
    Practice,
    PriorAuthCase,
    Provider,
    RequirementStatus,
    Role,
    Status,
    Task,
    User,
)
from cases.readiness import case_reconcile
from cases.services import case_event_add
from cases.transitions import AWAITING_PAYER
from integrations.base import DecisionStatus
from integrations.registry import BY_HAND
from integrations.submission.services import last_sent_key, submission_record_by_hand
from payers.models import DocumentationRequirement, Payer, PayerRule, RequirementKind, RequiresPA, WhoCloses

from . import payer as sim_payer
from . import profiles
from .workers import SimulationCluster

TZ = "America/New_York"
WORK_HOURS = range(8, 17)
# The scheduled tasks that act on this practice (the rest read an EHR, a PAS or fax server the run has not got;
# the authorization-expiry watch is left out: a 90-day authorization does not end inside a month's run).
# Run every simulated hour in three phases, each queued once the one before and everything it queued have run (a
# send per due submission, a poll per due case, the texts and write-backs a decision queues): concurrent, a poll
# could read a case while its update is being sent, or the escalation look at a case a poll is deciding, and the
# figures would depend on which worker came first. Inside the last phase the order does not matter: the escalation
# writes tasks, the texts touch only the outbox, the sweep only reads (the staff model uses that it exists, not
# what it says). The inline run runs them in this order too. The cluster runs most of them every minute.
CLUSTER_PHASES = (
    ("integrations.submission.tasks.send_due_submissions",),
    ("integrations.submission.tasks.poll_due_cases",),
    (
        "integrations.submission.tasks.escalate",
        "integrations.sms_twilio.tasks.send_due_texts",
        "cases.tasks.run_due_sweeps",
    ),
)
CLUSTER_SCHEDULES = tuple(func for phase in CLUSTER_PHASES for func in phase)  # staff work 08:00–17:00, weekdays


@dataclass
class Touch:
    """A person's time on a case (or on the sweep): what they did, how long, and what led them to it."""

    case_id: int | None
    role: str
    action: str
    minutes: int
    via: str  # "task:<id>", "queue:<name>", "orders:<order id>", "followup:<case id>" or "sweep:<id>"


@dataclass
class Run:
    seed: int
    providers: int
    days: int
    manual: bool
    practice: Practice | None = None
    start: datetime | None = None
    end: datetime | None = None
    touches: list[Touch] = field(default_factory=list)
    backlog: list[tuple[str, int]] = field(default_factory=list)
    patient_told: dict[int, datetime] = field(default_factory=dict)
    ehr_entries: int = 0
    book: sim_payer.PayerBook | None = None
    payer_ids: list[int] = field(default_factory=list)
    workers: int = 0
    task_failures: list[str] = field(default_factory=list)


def run_simulation(*, seed: int, providers: int = 10, days: int = 30, manual: bool = False, workers: int = 2) -> Run:
    """Run one simulated practice for `days` from a fixed Monday; returns the run (figures: report.py).

    `workers` real cluster workers run the scheduled and queued tasks (0: inline, in this process)."""
    from django_q.conf import Conf

    rng = random.Random(seed)
    run = Run(seed=seed, providers=providers, days=days, manual=manual, workers=workers)
    tz = ZoneInfo(TZ)
    # A fixed Monday, so the same seed meets the same weekdays; well clear of daylight-saving changes.
    run.start = datetime.combine(date(2026, 3, 16), time(0, 0), tzinfo=tz)
    run.end = run.start + timedelta(days=days)
    book = sim_payer.PayerBook(seed=seed, by_name={}, start=run.start)
    run.book = book
    conf_before = (Conf.SYNC, Conf.SAVE_LIMIT, Conf.ORM, Conf.CLUSTER_NAME)
    cluster = server = None
    if workers:
        # The payers answer the workers over loopback HTTP; the workers run the tasks on their own queue.
        server = sim_payer.serve(book)
        cluster = SimulationCluster(workers=workers, payer_url=f"http://127.0.0.1:{server.server_address[1]}")
        Conf.SYNC, Conf.ORM, Conf.CLUSTER_NAME = False, "default", cluster.name
    else:
        Conf.SYNC = True  # the cluster's tasks run inline, in order, in this process
    # Successful task results are not stored: the monitor would otherwise re-read and prune the
    # whole result table after each of the run's tens of thousands of tasks.
    Conf.SAVE_LIMIT = -1
    # One connection for the whole run: django-q2's worker closes "old" connections after every task,
    # which with CONN_MAX_AGE=0 means reconnecting to PostgreSQL each time.
    max_age_before = connection.settings_dict.get("CONN_MAX_AGE", 0)
    connection.settings_dict["CONN_MAX_AGE"] = None
    connection.close_at = None
    if connection.vendor == "postgresql":
        # A scratch database (the command refuses a production one): commits need not wait for the disk.
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO off")
    sim_payer.ACTIVE = book
    try:
        with time_machine.travel(run.start, tick=False) as clock:
            world = _World(run, rng, book, cluster)
            arrivals = world.schedule_orders()
            hour = run.start
            while hour < run.end:
                clock.move_to(hour)
                if cluster is not None:
                    cluster.set_clock(hour)
                world.orders_arrive(arrivals.get(hour, ()))
                if not manual:
                    world.cluster_tick()
                local = hour.astimezone(tz)
                if local.weekday() < 5 and local.hour in WORK_HOURS:
                    world.staff_hour()
                    world.settle()
                if local.hour == 17:
                    run.backlog.append((local.date().isoformat(), world.backlog()))
                hour += timedelta(hours=1)
            clock.move_to(run.end)
    finally:
        if run.practice is not None:
            # The run is over: nobody asks its payers again (the book goes with it; runs share a database).
            PriorAuthCase.objects.filter(practice=run.practice).update(next_poll_at=None)
        if cluster is not None:
            run.task_failures = cluster.failures()
            cluster.stop()
        if server is not None:
            server.shutdown()
            server.server_close()
        Conf.SYNC, Conf.SAVE_LIMIT, Conf.ORM, Conf.CLUSTER_NAME = conf_before
        if connection.vendor == "postgresql" and connection.connection is not None:
            with connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit TO DEFAULT")
        connection.settings_dict["CONN_MAX_AGE"] = max_age_before
        sim_payer.ACTIVE = None
    return run


def run_discard(run: Run) -> None:
    """Delete what a run created (after its figures are read), so runs do not pile up in the database
    and the next run's cluster tasks (which look at every practice) do not work through them."""
    practice = run.practice
    with transaction.atomic():
        PriorAuthCase.objects.filter(practice=practice).delete()
        Order.objects.filter(practice=practice).delete()
        Patient.objects.filter(practice=practice).delete()
        Payer.objects.filter(pk__in=run.payer_ids).delete()
        User.objects.filter(practice=practice).delete()
        Provider.objects.filter(practice=practice).delete()
        practice.delete()


@dataclass(frozen=True)
class Arrival:
    at: datetime
    provider_index: int
    service: profiles.Service
    urgent: bool
    payer_index: int
    missing: tuple[int, ...]  # indexes of the service's requirements the chart lacks
    scheduled_in_days: int


class _World:
    def __init__(self, run: Run, rng: random.Random, book: sim_payer.PayerBook, cluster: SimulationCluster | None):
        self.run = run
        self.rng = rng
        self.book = book
        self.cluster = cluster
        self.order_index: dict[int, int] = {}  # order id -> its place in the run (the payers' draws use it)
        self.manual = run.manual
        # Names unique per run (runs share a database); never drawn from rng, so both modes draw alike.
        self.tag = f"{run.seed}-{'manual' if run.manual else 'auto'}-{Practice.objects.count() + 1}"
        self.chart_missing: dict[int, set[int]] = {}  # case id -> requirement positions the chart lacks
        self.order_missing: dict[int, tuple[int, ...]] = {}
        self.last_check: dict[int, datetime] = {}
        self.counter = 0
        self._setup()

    # --- the practice -------------------------------------------------------------------------------

    def _setup(self) -> None:
        run = self.run
        self.practice = Practice.objects.create(
            name=f"Simulated practice {self.tag}"[:120],
            time_zone=TZ,
            # Manager approval of each submission is a setting; off here, the same in both runs.
            submission_requires_approval=False,
        )
        run.practice = self.practice
        location = Location.objects.create(practice=self.practice, name="Main", place_of_service="11")
        groups = {role: Group.objects.get_or_create(name=role)[0] for role in Role.values}
        self.providers = []
        self.clinicians = []
        for i in range(run.providers):
            provider = Provider.objects.create(
                practice=self.practice,
                first_name=f"Sim{i + 1}",
                last_name="Provider",
                credentials="MD",
                npi=f"9{self.practice.pk % 100_000:05d}{i:04d}",
                specialty="Internal medicine",
                location=location,
            )
            self.providers.append(provider)
            self.clinicians.append(self._user(f"clin{i + 1}", groups[Role.CLINICIAN], provider=provider))
        coordinators = max(1, round(run.providers * 0.5))
        self.coordinators = [self._user(f"coord{i + 1}", groups[Role.COORDINATOR]) for i in range(coordinators)]
        self.manager = self._user("manager", groups[Role.MANAGER])
        self.front_desk = self._user("frontdesk", groups[Role.FRONT_DESK])
        self.payers = []
        channel = "sim_by_hand" if self.manual else "sim"
        for profile in profiles.PAYERS:
            payer = Payer.objects.create(
                name=f"{profile.name} · {self.tag}"[:120],
                cms_impacted=profile.cms_impacted,
                default_channel=channel,
                poll_interval_hours=8,
                stall_threshold_hours=72,
                standard_turnaround_hours=7 * 24,
            )
            self.book.by_name[payer.name] = profile
            run.payer_ids.append(payer.pk)
            self.payers.append(payer)
            for service in (*profiles.SERVICES, profiles.NOT_REQUIRED_SERVICE):
                rule = PayerRule.objects.create(
                    payer=payer,
                    code_system=service.code_system,
                    code=service.code,
                    requires_pa=RequiresPA.YES if service.requirements else RequiresPA.NO,
                    category=service.category,
                    channel=channel,
                    benefit="medical",
                    effective_from=self.run.start.date() - timedelta(days=365),
                )
                for position, text in enumerate(service.requirements):
                    DocumentationRequirement.objects.create(
                        rule=rule,
                        kind=RequirementKind.FREE_TEXT,
                        description=text,
                        who_closes=WhoCloses.CLINICIAN if service.clinician_gap else WhoCloses.COORDINATOR,
                        position=position,
                    )
        self.location = location

    def _user(self, name: str, group, provider=None) -> User:
        user = User.objects.create(
            username=f"sim-{name}-{self.tag}"[:150], practice=self.practice, provider=provider, first_name=name
        )
        user.groups.add(group)
        return user

    # --- orders ----------------------------------------------------------------------------------------

    def schedule_orders(self) -> dict[datetime, list[Arrival]]:
        """Every order of the run, drawn up front: ≈60 PA orders per provider per month on weekdays."""
        rng = self.rng
        per_day = profiles.PA_ORDERS_PER_PROVIDER_PER_MONTH / 21.7 / (1 - profiles.NOT_REQUIRED_SHARE)
        weights = [s.weight for s in profiles.SERVICES]
        payer_weights = [p.share for p in profiles.PAYERS]
        arrivals: dict[datetime, list[Arrival]] = {}
        tz = ZoneInfo(TZ)
        for day in range(self.run.days):
            local_day = (self.run.start + timedelta(days=day)).astimezone(tz)
            if local_day.weekday() >= 5:
                continue
            for p in range(self.run.providers):
                # Binomial draw of today's orders (mean per_day), then each order's shape.
                count = sum(rng.random() < per_day / 6 for _ in range(6))
                for _ in range(count):
                    hour = rng.randrange(8, 17)
                    if rng.random() < profiles.NOT_REQUIRED_SHARE:
                        service = profiles.NOT_REQUIRED_SERVICE
                    else:
                        service = rng.choices(profiles.SERVICES, weights)[0]
                    urgent = rng.random() < profiles.URGENT_SHARE
                    payer_index = rng.choices(range(len(profiles.PAYERS)), payer_weights)[0]
                    missing = ()
                    if service.requirements and rng.random() < profiles.MISSING_DOC_SHARE:
                        missing = (rng.randrange(len(service.requirements)),)
                    scheduled = rng.randint(2, 4) if urgent else rng.randint(7, 21)
                    at = local_day.replace(hour=hour)
                    arrivals.setdefault(at, []).append(Arrival(at, p, service, urgent, payer_index, missing, scheduled))
        return arrivals

    def orders_arrive(self, arrivals) -> None:
        """This hour's orders land; detection runs on each (it queues the packet task, which finds no EHR here),
        and once those tasks have run, the packet check reads each new case's chart — the inline order too."""
        cases = []
        for arrival in arrivals:
            order = self._order_arrives(arrival)
            if not self.manual:
                case = case_open_for_order(order=order)
                self._track(case, order)
                cases.append(case)
        if not cases:
            return
        self.settle()
        for case in cases:
            if case.status == Status.GATHERING:
                case.refresh_from_db()
                self._chart_check(case)

    def _order_arrives(self, arrival: Arrival) -> Order:
        """The order lands in the practice (the EHR intake's end state): patient, coverage, order."""
        self.counter += 1
        n = self.counter
        patient = Patient.objects.create(
            practice=self.practice,
            first_name=f"Pat{n}",
            last_name="Sim",
            birth_date=date(1960, 1, 1) + timedelta(days=n * 37 % 9000),
            mrn=f"SIM{n:06d}",
            mobile_phone=f"+1555{n % 10_000_000:07d}",
            # No texting by hand: the baseline tells patients by phone.
            sms_consent=not self.manual,
        )
        payer = self.payers[arrival.payer_index]
        coverage = Coverage.objects.create(
            patient=patient, payer=payer, member_id=f"M{n:08d}", start=self.run.start.date() - timedelta(days=365)
        )
        service = arrival.service
        order = Order.objects.create(
            practice=self.practice,
            patient=patient,
            coverage=coverage,
            kind=Order.Kind.MEDICATION if service.code.startswith("J") else Order.Kind.SERVICE,
            code_system=service.code_system,
            code=service.code,
            description=service.description,
            ordering_provider=self.providers[arrival.provider_index],
            location=self.location,
            site_of_service="11",
            priority=Order.Priority.URGENT if arrival.urgent else Order.Priority.ROUTINE,
            scheduled_date=arrival.at.date() + timedelta(days=arrival.scheduled_in_days),
            source=Order.Source.EHR,
            ehr_id=f"sim-{n}",
        )
        self.order_missing[order.pk] = arrival.missing
        self.order_index[order.pk] = n
        return order

    def _track(self, case: PriorAuthCase, order: Order) -> None:
        self.chart_missing[case.pk] = set(self.order_missing.get(order.pk, ()))
        self.book.case_index[case.pk] = self.order_index[order.pk]
        self.book.missing[case.pk] = len(self.chart_missing[case.pk])

    def _chart_check(self, case: PriorAuthCase) -> None:
        """Stands in for the packet assembly task (integrations.ehr_fhir.packet.assemble_packet), which
        reads a real FHIR chart: the simulated chart has every item but the missing ones. The same writes
        that task makes — each requirement met or a gap, and a timeline line."""
        missing = self.chart_missing[case.pk]
        statuses = list(case.requirement_statuses.select_related("requirement").order_by("requirement__position"))
        for rs in statuses:
            rs.state = (
                RequirementStatus.State.GAP if rs.requirement.position in missing else RequirementStatus.State.MET
            )
            rs.evidence = [] if rs.state == RequirementStatus.State.GAP else [{"resource": "simulated chart"}]
            rs.save(update_fields=["state", "evidence", "updated_at"])
        gaps = sum(rs.state == RequirementStatus.State.GAP for rs in statuses)
        case_event_add(
            case=case,
            kind="document",
            message=f"Checked the chart (simulated): {len(statuses) - gaps} requirement(s) met, {gaps} gap(s)",
        )
        case_reconcile(case=case, actor=None)  # the gate: a summary drafted, the clinician asked to attest

    # --- the cluster's schedules --------------------------------------------------------------------

    def cluster_tick(self) -> None:
        """The cluster's schedules (their django_q Schedule rows' functions), once per simulated hour: queued
        for the run's workers phase by phase (inline, each runs at once)."""
        from django_q.tasks import async_task

        for phase in CLUSTER_PHASES:
            for func in phase:
                async_task(func)
            self.settle()

    def settle(self) -> None:
        """Wait for the workers to finish what is queued (inline there is nothing to wait for)."""
        if self.cluster is not None:
            self.cluster.drain()

    # --- staff ----------------------------------------------------------------------------------------

    def backlog(self) -> int:
        undecided = (
            Status.NEW,
            Status.GATHERING,
            Status.NEEDS_CLINICIAN,
            Status.READY,
            Status.SUBMITTED,
            Status.PENDED,
        )
        open_cases = PriorAuthCase.objects.filter(practice=self.practice, status__in=undecided).count()
        unreviewed = (
            Order.objects.filter(practice=self.practice)
            .exclude(Exists(PriorAuthCase.objects.filter(order=OuterRef("pk"))))
            .count()
        )
        return open_cases + unreviewed

    def touch(self, case_id, role, action, via, minutes=None) -> int:
        minutes = profiles.COST[action] if minutes is None else minutes
        self.run.touches.append(Touch(case_id, role, action, minutes, via))
        return minutes

    def staff_hour(self) -> None:
        """One working hour: each person works what the app shows them until their hour is spent."""
        budget = {Role.COORDINATOR: 60 * len(self.coordinators), Role.MANAGER: 60, Role.FRONT_DESK: 60}
        coordinator = self.coordinators[0]
        if not self.manual:
            budget[Role.MANAGER] -= self._sweep_review()
        for task in self._open_tasks(role=Role.MANAGER):
            if budget[Role.MANAGER] <= 0:
                break
            budget[Role.MANAGER] -= self._work_task(task, self.manager, Role.MANAGER)
        for task in self._open_tasks(role=Role.FRONT_DESK):
            if budget[Role.FRONT_DESK] <= 0:
                break
            budget[Role.FRONT_DESK] -= self._work_task(task, self.front_desk, Role.FRONT_DESK)
        for clinician in self.clinicians:
            spent = 0
            for task in self._open_tasks(assignee=clinician):
                if spent >= 30:  # half of each hour at most goes to PA paperwork
                    break
                spent += self._work_task(task, clinician, Role.CLINICIAN)
        left = budget[Role.COORDINATOR]
        for step in (
            self._coordinator_tasks,
            self._review_orders,
            self._close_gaps,
            self._submit_ready,
            self._send_updates,
            self._chase,
        ):
            if left <= 0:
                break
            left = step(coordinator, left)

    def _sweep_review(self) -> int:
        from cases.sweep.models import Sweep

        local = timezone.localtime(timezone.now(), ZoneInfo(TZ))
        if local.hour != 8:
            return 0
        sweep = Sweep.objects.filter(practice=self.practice).order_by("-id").first()
        if sweep is None:
            return 0
        return self.touch(None, Role.MANAGER, "other_task", f"sweep:{sweep.pk}", minutes=10)

    def _open_tasks(self, *, role: str = "", assignee=None):
        tasks = Task.objects.filter(case__practice=self.practice, done_at__isnull=True).select_related("case")
        if assignee is not None:
            clinician_roles = tasks.filter(role=Role.CLINICIAN, case__order__ordering_provider=assignee.provider)
            tasks = tasks.filter(assignee=assignee) | clinician_roles
        else:
            tasks = tasks.filter(role=role, assignee__isnull=True)
        # Not by id among equals: tasks the workers create in the same step get ids in whichever order they ran.
        return list(tasks.order_by("due_at", "case__patient__mrn", "kind", "id")[:50])

    def _work_task(self, task: Task, user, role: str) -> int:
        via = f"task:{task.pk}"
        case = task.case
        kind = task.kind
        if kind == Task.Kind.ESCALATION:
            spent = self.touch(case.pk, role, "escalation_call", via)
            self.book.call(last_sent_key(case), timezone.now())
            task_complete(task=task, actor=user)
            return spent
        if kind == Task.Kind.CLINICIAN_INPUT:
            spent = self.touch(case.pk, role, "clinician_input", via)
            self._fill_gaps(case, user, clinician=True)
            # Done with an answer: the case returns to the coordinator with a review task (cases.actions).
            task_complete(task=task, actor=user, answer="Documented in the chart.")
            return spent
        if kind == Task.Kind.ATTEST_SUMMARY:
            # The ordering clinician reads the summary and attests it (the submission gate, cases/readiness.py).
            spent = self.touch(case.pk, role, "attest_summary", via)
            case.refresh_from_db()
            try:
                case_attest_summary(case=case, actor=user)
            except ActionRefused:
                pass  # the summary changed or the case moved on: the gate asks again if it must
            task.refresh_from_db()
            if task.done_at is None:
                task_complete(task=task, actor=user)
            return spent
        if kind == Task.Kind.ANSWER_INFO_REQUEST:
            spent = self.touch(case.pk, role, "clinician_input", via)
            if self.manual:
                task_complete(task=task, actor=user)  # the coordinator faxes the answer (queue: pended)
            else:
                case.refresh_from_db()
                try:
                    case_send_update(case=case, actor=user, message="Clinical information as requested.")
                    spent += self.touch(case.pk, role, "send_update", via)
                except ActionRefused:
                    task_complete(task=task, actor=user)
            return spent
        if kind == Task.Kind.SUBMIT:
            # Worked by hand: key the request into the payer's portal, then record that the payer has it.
            spent = self.touch(case.pk, role, "portal_entry", via)
            case.refresh_from_db()
            submission = submission_record_by_hand(case=case, actor=user)
            self._payer_receives(case, submission.idempotency_key, update=False)
            task_complete(task=task, actor=user)
            return spent
        if kind == Task.Kind.RESCHEDULE:
            spent = self.touch(case.pk, role, "reschedule", via)
        elif kind in (Task.Kind.WORK_DENIAL, Task.Kind.PEER_TO_PEER):
            spent = self.touch(case.pk, role, "work_denial", via)
        elif kind == Task.Kind.CALL_PATIENT:
            spent = self.touch(case.pk, role, "call_patient", via)
        else:
            spent = self.touch(case.pk, role, "other_task", via)
        task_complete(task=task, actor=user)
        return spent

    def _coordinator_tasks(self, user, left: int) -> int:
        for task in self._open_tasks(role=Role.COORDINATOR):
            if left <= 0:
                break
            left -= self._work_task(task, user, Role.COORDINATOR)
        return left

    def _review_orders(self, user, left: int) -> int:
        """By hand only: the order list, each order looked up against the payer's rules."""
        if not self.manual:
            return left
        orders = (
            Order.objects.filter(practice=self.practice)
            .exclude(Exists(PriorAuthCase.objects.filter(order=OuterRef("pk"))))
            .order_by("created_at", "id")
        )
        for order in orders[:40]:
            if left <= 0:
                break
            left -= self.touch(None, Role.COORDINATOR, "review_order", f"orders:{order.pk}")
            case = case_open_for_order(order=order, actor=user)
            self._track(case, order)
            if case.status != Status.GATHERING:
                continue
            # Each item read in the chart by hand; a missing one is noticed only sometimes.
            missing = self.chart_missing[case.pk]
            for rs in case.requirement_statuses.select_related("requirement").order_by("requirement__position"):
                left -= self.touch(case.pk, Role.COORDINATOR, "check_requirement", f"orders:{order.pk}")
                absent = rs.requirement.position in missing
                if absent and self.rng.random() < profiles.MANUAL_GAP_NOTICED:
                    continue  # stays a gap: worked from the queue like any other
                case_resolve_gap(case=case, requirement_status=rs, actor=user, note="Checked the chart by hand")
        return left

    def _close_gaps(self, user, left: int) -> int:
        cases = (
            PriorAuthCase.objects.filter(practice=self.practice, status=Status.GATHERING)
            .filter(Exists(RequirementStatus.objects.filter(case=OuterRef("pk"), state=RequirementStatus.State.GAP)))
            .order_by("priority_key", "id")
        )
        for case in cases[:40]:
            if left <= 0:
                break
            via = "queue:missing_documentation"
            gaps = list(
                case.requirement_statuses.filter(state=RequirementStatus.State.GAP).select_related("requirement")
            )
            if any(rs.requirement.who_closes == WhoCloses.CLINICIAN for rs in gaps):
                if not case.tasks.filter(kind=Task.Kind.CLINICIAN_INPUT, done_at__isnull=True).exists():
                    left -= self.touch(case.pk, Role.COORDINATOR, "open_case", via)
                    case_request_clinician_input(
                        case=case, actor=user, question="Please document the missing item for the payer."
                    )
                continue
            left -= self.touch(
                case.pk, Role.COORDINATOR, "find_document", via, minutes=profiles.COST["find_document"] * len(gaps)
            )
            self._fill_gaps(case, user, clinician=False)
        return left

    def _fill_gaps(self, case: PriorAuthCase, user, *, clinician: bool) -> None:
        for rs in case.requirement_statuses.filter(state=RequirementStatus.State.GAP).select_related("requirement"):
            if (rs.requirement.who_closes == WhoCloses.CLINICIAN) != clinician:
                continue
            self.chart_missing[case.pk].discard(rs.requirement.position)
            self.book.missing[case.pk] = len(self.chart_missing[case.pk])
            case_resolve_gap(case=case, requirement_status=rs, actor=user, note="Added to the chart")

    def _submit_ready(self, user, left: int) -> int:
        cases = PriorAuthCase.objects.filter(practice=self.practice, status=Status.READY)
        cases = cases.exclude(
            Exists(Task.objects.filter(case=OuterRef("pk"), kind=Task.Kind.SUBMIT, done_at__isnull=True))
        )
        for case in cases.order_by("priority_key", "id")[:60]:
            if left <= 0:
                break
            if case.submissions.exists():
                continue  # a request is already on its way (the engine or a person's task has it)
            left -= self.touch(case.pk, Role.COORDINATOR, "open_case" if self.manual else "submit_click", "queue:ready")
            try:
                case_submit(case=case, actor=user)
            except ActionRefused:
                continue
        return left

    def _send_updates(self, user, left: int) -> int:
        """By hand: a pended case whose clinician has answered is faxed back to the payer."""
        if not self.manual:
            return left
        cases = PriorAuthCase.objects.filter(practice=self.practice, status=Status.PENDED).exclude(
            Exists(Task.objects.filter(case=OuterRef("pk"), kind=Task.Kind.ANSWER_INFO_REQUEST, done_at__isnull=True))
        )
        for case in cases.order_by("priority_key", "id")[:40]:
            if left <= 0:
                break
            left -= self.touch(case.pk, Role.COORDINATOR, "fax_update", "queue:pended")
            submission = submission_record_by_hand(case=case, actor=user)
            self._payer_receives(case, submission.idempotency_key, update=True)
        return left

    def _chase(self, user, left: int) -> int:
        """By hand: every request the payer has is phoned about every few days; what it says is recorded."""
        if not self.manual:
            return left
        now = timezone.now()
        cases = PriorAuthCase.objects.filter(practice=self.practice, status__in=AWAITING_PAYER).select_related("payer")
        for case in cases.order_by("submitted_at", "id")[:80]:
            if left <= 0:
                break
            last = self.last_check.get(case.pk) or case.status_changed_at
            if now - last < timedelta(hours=profiles.MANUAL_CHECK_EVERY_HOURS):
                continue
            if case.status == Status.PENDED:
                continue  # waiting on the clinician's answer, not the payer
            self.last_check[case.pk] = now
            via = f"followup:{case.pk}"
            left -= self.touch(case.pk, Role.COORDINATOR, "status_call", via)
            key = last_sent_key(case)
            self.book.call(key, now)
            decision = self.book.answer(key=key, payer_name=case.payer.name, now=now, via_api=False)
            if decision is None or decision.status == DecisionStatus.STILL_PENDING:
                continue
            decision_apply(case=case, decision=decision, source=BY_HAND, actor=user)
            if decision.status == DecisionStatus.APPROVED:
                left -= self.touch(case.pk, Role.COORDINATOR, "ehr_entry", via)
                self.run.ehr_entries += 1
                left -= self.touch(case.pk, Role.COORDINATOR, "call_patient", via)
                self.run.patient_told[case.pk] = now
        return left

    def _payer_receives(self, case: PriorAuthCase, key: str, *, update: bool) -> None:
        case.refresh_from_db()
        self.book.receive(
            key=key,
            case_id=case.pk,
            payer_name=case.payer.name,
            now=timezone.now(),
            update=update,
            urgent=case.urgency == "expedited",
        )
        self.last_check[case.pk] = timezone.now()
