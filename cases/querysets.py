"""Reads of cases and tasks. Querysets select; they never write."""

import datetime as dt
import re

from django.db import models
from django.db.models import Case, Exists, F, IntegerField, OuterRef, Q, Value, When

SEARCH_ID_LIMIT = 500
SEARCH_WORD_LIMIT = 5


def search_words(text: str) -> list[str]:
    """The words of a search: "Eastwood, Ruth" is two words, like "Ruth Eastwood"; at most SEARCH_WORD_LIMIT."""
    return re.sub(r"[,;]+", " ", text).split()[:SEARCH_WORD_LIMIT]


def _group(name: str) -> frozenset:
    # cases.transitions imports cases.models, which imports this module: read the group at call time.
    from cases import transitions

    return getattr(transitions, name)


class CaseQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The one way a view gets cases: what this user may see.

        Managers, coordinators and front desk see their practice; clinicians
        see the cases of their own provider and of providers who named them
        as a delegate; anyone else (or another practice's user) sees none.
        """
        if not getattr(user, "is_authenticated", False) or not user.practice_id:
            return self.none()
        in_practice = self.filter(practice_id=user.practice_id)
        if user.has_role("manager", "coordinator", "front_desk", "admin"):
            return in_practice
        if user.has_role("clinician"):
            own = Q(order__ordering_provider__user=user) | Q(order__ordering_provider__delegates=user)
            return in_practice.filter(own).distinct()
        return self.none()

    def open(self):
        return self.filter(status__in=_group("OPEN_STATUSES"))

    def closed(self):
        return self.exclude(status__in=_group("OPEN_STATUSES"))

    def assigned_to(self, user):
        return self.filter(assignee=user)

    def unassigned(self):
        return self.filter(assignee__isnull=True)

    def overdue(self, now):
        # Only while the payer owes the answer: a decided (e.g. denied, still
        # open) or sent-back case keeps its old deadline but is not late.
        return self.awaiting_payer().filter(decision_due_at__lt=now)

    def awaiting_payer(self):
        return self.filter(status__in=_group("AWAITING_PAYER"))

    def needs_clinician(self):
        return self.filter(status="needs_clinician")

    def due_for_poll(self, now):
        return self.filter(next_poll_at__lte=now).awaiting_payer()

    def status_counts(self) -> dict[str, int]:
        """{status: number of cases} in one GROUP BY query (the queue's counts per status)."""
        return dict(self.order_by().values_list("status").annotate(n=models.Count("pk")))

    def with_related(self):
        return self.select_related(
            "practice",
            "patient",
            "order",
            "order__ordering_provider",
            "payer",
            "plan",
            "assignee",
            "order__location",
            "order__coverage",
            "rule",
        )

    def search(self, text: str):
        """Every word must match a patient name, MRN, member id, authorization number or payer reference.

        Names are matched anywhere (`icontains`) and each word on its own, so "Eastwood, Ruth" (as names are shown)
        and "Ruth Eastwood" find the same patient; commas and semicolons are separators. On PostgreSQL the trigram
        indexes on the patient's names (`pg_trgm`, migration cases 0009) serve that ILIKE; identifiers are exact
        (case-insensitive) and served by the UPPER(...) indexes of migrations 0009 and 0012; SQLite scans, which is
        fine at a laptop's size. Open and closed cases alike: the caller narrows to `open()` when it wants.
        """
        # Patients first (one query per word, through their trigram indexes), then cases by those ids: with a
        # subquery instead, PostgreSQL walks the queue's priority index testing all 80 000 open cases against it.
        # A word matching more than SEARCH_ID_LIMIT patients (a single letter) keeps the subquery.
        patients = self.model._meta.get_field("patient").related_model.objects
        qs = self
        for word in search_words(text):
            people = patients.filter(
                Q(last_name__icontains=word)
                | Q(first_name__icontains=word)
                | Q(mrn__iexact=word)
                | Q(coverages__member_id__iexact=word)
            )
            ids = list(people.values_list("pk", flat=True).distinct()[: SEARCH_ID_LIMIT + 1])
            matched = Q(patient_id__in=ids) if len(ids) <= SEARCH_ID_LIMIT else Q(patient__in=people.values("pk"))
            qs = qs.filter(matched | Q(authorization_number__iexact=word) | Q(payer_tracking_id__iexact=word))
        return qs

    def with_authorization(self):
        """Approved or partially approved: the authorizations the front desk schedules against."""
        return self.filter(status__in=_group("APPROVED_STATUSES"))

    def authorized_on(self, day: dt.date):
        """Authorizations whose effective period covers `day` (an open end counts as still valid)."""
        return self.filter(Q(auth_effective_start__isnull=True) | Q(auth_effective_start__lte=day)).filter(
            Q(auth_effective_end__isnull=True) | Q(auth_effective_end__gte=day)
        )

    def mine_or_unassigned(self, user):
        return self.filter(Q(assignee=user) | Q(assignee__isnull=True))

    def needing_clinician(self, user):
        """Cases waiting on a clinician: the status says so, or an open task is theirs."""
        # The task model through the reverse relation, not an import: cases.models imports this module.
        tasks = self.model._meta.get_field("tasks").related_model
        theirs = tasks.objects.filter(case=OuterRef("pk"), done_at__isnull=True).filter(
            Q(assignee=user) | Q(assignee__isnull=True, role="clinician")
        )
        return self.filter(Q(status__in=["needs_clinician", "pended"]) | Exists(theirs))

    def scheduled(self):
        return self.filter(order__scheduled_date__isnull=False)

    def with_schedule_risk(self, today: dt.date, windows: dict[tuple[int, str], dt.timedelta]):
        """Annotate `at_risk`: the appointment comes before the expected decision.

        Submitted cases compare their decision deadline with the appointment;
        the others use the payer's decision window from today. `windows` maps
        (payer id, urgency) to the window, computed from the few payer rows so
        the comparison stays plain date arithmetic on every database.
        """
        by_cutoff: dict[dt.date, list[tuple[int, str]]] = {}
        for key, window in windows.items():
            by_cutoff.setdefault(today + window, []).append(key)
        risky = Q(decision_due_at__isnull=False, decision_due_at__date__gt=F("order__scheduled_date"))
        for cutoff, keys in by_cutoff.items():
            for urgency in {u for _, u in keys}:
                ids = [pid for pid, u in keys if u == urgency]
                risky |= Q(decision_due_at__isnull=True, payer_id__in=ids, urgency=urgency) & Q(
                    order__scheduled_date__lte=cutoff
                )
        undecided = Q(status__in=_group("UNDECIDED_STATUSES"))
        return self.annotate(
            at_risk=Case(
                When(Q(order__scheduled_date__isnull=False) & undecided & risky, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
        )

    def prioritized(self):
        """The queue's order, from the stored key (`cases.priority`): an index scan on `case_queue_priority`.

        The `> ""` repeats the partial index's condition, so the planner may use it (every open case has a key:
        save() writes it, and the hourly refresh covers rows written in bulk).
        """
        return self.filter(priority_key__gt="").order_by("priority_key", "pk")

    def after_priority(self, key: str, pk: int):
        """Keyset page: the cases after (key, pk) in `prioritized` order.

        The `>=` on the key alone lets PostgreSQL start the index scan there; the OR only breaks ties.
        """
        return self.filter(priority_key__gte=key).filter(Q(priority_key__gt=key) | Q(pk__gt=pk))

    def by_computed_priority(self):
        """Expedited first, then schedule risk, then our deadline, then the oldest: computed, not stored.

        What `cases.priority` stores; tests compare the two. Needs `with_schedule_risk` first.
        """
        expedited = Case(When(urgency="expedited", then=Value(0)), default=Value(1), output_field=IntegerField())
        return self.annotate(urgency_rank=expedited).order_by(
            "urgency_rank", "-at_risk", F("decision_due_at").asc(nulls_last=True), "created_at", "pk"
        )


class TaskQuerySet(models.QuerySet):
    def open(self):
        return self.filter(done_at__isnull=True)

    def for_user(self, user):
        """Tasks assigned to the user or to one of their roles, in their practice."""
        roles = list(user.role_names())
        return self.filter(case__practice_id=user.practice_id).filter(
            Q(assignee=user) | Q(assignee__isnull=True, role__in=roles)
        )


def _as_date(word: str) -> dt.date | None:
    """A birth date as staff type it: 1956-03-14, 03/14/1956 or 3/14/1956."""
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y"):
        try:
            return dt.datetime.strptime(word, fmt).date()
        except ValueError:
            continue
    return None


class PatientQuerySet(models.QuerySet):
    def search(self, text: str):
        """Every word must match: a birth date (typed as a date), the MRN exactly, or a name (anywhere in it).

        The new-order patient picker: the practice's patients narrowed to a few, never a list of everyone.
        """
        qs = self
        words = search_words(text)
        if not words:
            return self.none()
        for word in words:
            born = _as_date(word)
            if born:
                qs = qs.filter(birth_date=born)
            else:
                qs = qs.filter(Q(last_name__icontains=word) | Q(first_name__icontains=word) | Q(mrn__iexact=word))
        return qs.order_by("last_name", "first_name", "birth_date", "pk")
