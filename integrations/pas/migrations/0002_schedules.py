"""Recurring jobs (idempotent, keyed on name). The poller claims rows itself and
must not replay missed runs: Q_CLUSTER["catch_up"] is False (django-q2 has no
per-schedule switch)."""

from django.db import migrations

SCHEDULES = [
    ("pas.poll_due_cases", "integrations.pas.tasks.poll_due_cases", 1),
    ("pas.send_due_submissions", "integrations.pas.tasks.send_due_submissions", 1),
    ("pas.escalate", "integrations.pas.tasks.escalate", 15),
]


def create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, func, minutes in SCHEDULES:
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": "I", "minutes": minutes, "repeats": -1},
        )


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=[s[0] for s in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("pas", "0001_initial"), ("django_q", "__latest__")]
    operations = [migrations.RunPython(create, remove)]
