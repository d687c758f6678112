"""The every-minute tick that runs each practice's sweep once per weekday at its local sweep time."""

from django.db import migrations

SCHEDULE_NAME = "sweep: run due sweeps"


def forwards(apps, schema_editor):
    # Idempotent, keyed on the name. The tick itself decides per practice
    # (time zone, weekday, holidays) and claims the day, so a missed or
    # doubled tick neither skips nor repeats a sweep.
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={"func": "cases.tasks.run_due_sweeps", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def backwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0003_sweep"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
