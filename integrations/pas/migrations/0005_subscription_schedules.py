"""Recurring jobs for payer subscriptions (idempotent, keyed on name), and the sandbox's
requests decided before it could push: marked as told, so a first subscriber is not sent
every old decision."""

from django.db import migrations
from django.utils import timezone

SCHEDULES = [
    # Retry subscriptions in error; subscribe practices with PAS cases awaiting a payer.
    ("pas.ensure_subscriptions", "integrations.pas.tasks.ensure_subscriptions", 60),
    # The sandbox payer's pushes (does nothing unless SANDBOX_ENABLED).
    ("pas.sandbox_push", "integrations.pas.tasks.sandbox_push", 1),
]


def create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, func, minutes in SCHEDULES:
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": "I", "minutes": minutes, "repeats": -1},
        )
    now = timezone.now()
    apps.get_model("pas", "SandboxClaim").objects.filter(notified_at__isnull=True, decide_at__lte=now).update(
        notified_at=now
    )


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=[s[0] for s in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("pas", "0004_subscriptions"), ("django_q", "__latest__")]
    operations = [migrations.RunPython(create, remove)]
