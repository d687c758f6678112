from django.db import migrations

# Two heartbeats were scheduled (cases 0010 for /healthz/cluster/, submission 0007 for the banner and the
# supervisor). One is kept: `submission.heartbeat`, which every reader now uses.
OLD = "cluster: heartbeat"


def drop_old(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=OLD).delete()


def restore_old(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=OLD,
        defaults={
            "func": "integrations.submission.liveness.heartbeat",
            "schedule_type": "I",
            "minutes": 1,
            "repeats": -1,
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("submission", "0007_heartbeat"),
        ("cases", "0010_cluster_heartbeat"),
    ]

    operations = [migrations.RunPython(drop_old, restore_old)]
