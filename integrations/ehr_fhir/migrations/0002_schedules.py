"""Recurring jobs: order intake and due write-backs (idempotent, keyed on name).

Pollers must not replay missed runs: Q_CLUSTER["catch_up"] is False globally
(django-q2 has no per-schedule switch)."""

from django.db import migrations

SCHEDULES = [
    ("ehr_fhir.sync_orders", "integrations.ehr_fhir.tasks.sync_orders", 5),
    ("ehr_fhir.write_back_due", "integrations.ehr_fhir.tasks.write_back_due", 5),
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
    dependencies = [("ehr_fhir", "0001_initial"), ("django_q", "__latest__")]
    operations = [migrations.RunPython(create, remove)]
