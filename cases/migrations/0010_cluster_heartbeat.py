from django.db import migrations

SCHEDULE_NAME = "cluster: heartbeat"


def forwards(apps, schema_editor):
    # Every minute; /healthz/cluster/ reads the last success. Idempotent, keyed on the name.
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": "integrations.submission.liveness.heartbeat",  # the one heartbeat (submission 0008 drops this)
            "schedule_type": "I",
            "minutes": 1,
            "repeats": -1,
        },
    )


def backwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0009_queue_priority_key"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
