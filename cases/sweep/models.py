"""The 7:30 a.m. sweep: one stored run per practice and its items.

Imported by `cases.models` so the models belong to the `cases` app (same
app label and tables as before they had a package). The dependency is one
way: this module names the case models by string ("cases.PriorAuthCase") and
never imports `cases.models`. The bucket rules live in `cases.sweep.buckets`;
these rows are their stored result, kept so managers can compare days.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class SweepItemQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The sweep items this user may see (reads only; the one way views get items).

        Managers (and admins) see every item of their practice; coordinators
        their own and unassigned cases; front desk the schedule-at-risk items;
        a clinician the clinician-input items of cases that are theirs (own or
        delegated). A user with several roles sees the union.
        """
        if not getattr(user, "is_authenticated", False) or not user.practice_id:
            return self.none()
        mine = self.filter(sweep__practice_id=user.practice_id)
        if user.has_role("manager", "admin"):
            return mine
        allowed = Q(pk__in=[])
        if user.has_role("coordinator"):
            allowed |= Q(case__assignee=user) | Q(case__assignee__isnull=True)
        if user.has_role("front_desk"):
            allowed |= Q(bucket=Bucket.SCHEDULE_AT_RISK)
        if user.has_role("clinician"):
            # The case model through the relation, not an import: cases.models imports this module.
            cases = self.model._meta.get_field("case").related_model
            theirs = cases.objects.visible_to(user).values("pk")
            allowed |= Q(bucket=Bucket.CLINICIAN_INPUT, case__in=theirs)
        return mine.filter(allowed)


class Bucket(models.TextChoices):
    """The sweep's buckets. The values are the `run_sweep --json` keys."""

    READY_TO_SUBMIT = "ready_to_submit", "Ready to submit"
    MISSING_DOCUMENTATION = "missing_documentation", "Missing documentation"
    PAYER_FOLLOW_UP = "payer_follow_up", "Payer follow-up needed"
    CLINICIAN_INPUT = "clinician_input", "Clinician input required"
    SCHEDULE_AT_RISK = "schedule_at_risk", "Schedule at risk"
    NEW_DENIALS = "new_denials", "New denials"
    STALLED = "stalled", "Stalled"


class Sweep(models.Model):
    """One sweep of one practice's open cases.

    A scheduled sweep is unique per (practice, local date): the scheduler
    claims the day by inserting this row before doing any work, so a restart
    or a second worker cannot run the same day twice. Manual sweeps ("run
    now" from the page or the command) are not limited.
    """

    class Trigger(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        MANUAL = "manual", "On demand"

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    practice = models.ForeignKey("cases.Practice", on_delete=models.CASCADE, related_name="sweeps")
    run_date = models.DateField(help_text="The practice's local date of the run.")
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.SCHEDULED)
    state = models.CharField(max_length=8, choices=State.choices, default=State.RUNNING)
    as_of = models.DateTimeField(default=timezone.now, help_text="The moment the cases were read.")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True, help_text="bucket → number of items")
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-as_of", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["practice", "run_date"], condition=Q(trigger="scheduled"), name="sweep_one_scheduled_per_day"
            )
        ]
        indexes = [models.Index(fields=["practice", "-as_of"])]

    def __str__(self) -> str:
        return f"Sweep {self.run_date} ({self.get_trigger_display()})"


class SweepItem(models.Model):
    """One case in one bucket of a sweep. A case may sit in several buckets."""

    # Items are written by INSERT … SELECT from the cases in the same
    # transaction (see cases.sweep.services.sweep_compute), so every id exists; without
    # database FK constraints that insert skips a trigger per row, which is
    # most of its cost at 100 000 cases. Django still cascades deletes.
    sweep = models.ForeignKey(
        Sweep, on_delete=models.CASCADE, related_name="items", db_constraint=False, db_index=False
    )
    case = models.ForeignKey(
        "cases.PriorAuthCase", on_delete=models.CASCADE, related_name="sweep_items", db_constraint=False
    )
    bucket = models.CharField(max_length=24, choices=Bucket.choices)
    # The one-line summary and next step are written when an item is shown
    # (cases.sweep.buckets.describe_items), from the case's data with the sweep's
    # moment as "now", so storing a sweep costs one insert per bucket.
    due_on = models.DateField(null=True, blank=True, help_text="Appeal deadline, appointment or decision date.")

    objects = SweepItemQuerySet.as_manager()

    class Meta:
        ordering = ["bucket", "due_on", "id"]
        constraints = [models.UniqueConstraint(fields=["sweep", "bucket", "case"], name="sweep_item_unique")]

    def __str__(self) -> str:
        return f"{self.get_bucket_display()}: case {self.case_id}"


class SweepHoliday(models.Model):
    """A day with no scheduled sweep (the page's "run now" still works)."""

    practice = models.ForeignKey(
        "cases.Practice",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sweep_holidays",
        help_text="Blank applies to every practice.",
    )
    date = models.DateField()
    name = models.CharField(max_length=80)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["practice", "date"], name="sweep_holiday_unique")]

    def __str__(self) -> str:
        return f"{self.date}: {self.name}"


class SweepSettings(models.Model):
    """Per-practice options of the sweep (admin)."""

    practice = models.OneToOneField("cases.Practice", on_delete=models.CASCADE, related_name="sweep_settings")
    digest_roles = models.JSONField(
        default=list,
        blank=True,
        help_text='Roles that get the e-mail digest after each scheduled sweep, e.g. ["manager", "coordinator"].',
    )

    class Meta:
        verbose_name = "sweep settings"
        verbose_name_plural = "sweep settings"

    def __str__(self) -> str:
        return f"Sweep settings of {self.practice}"
