"""The engine's recurring jobs now live in integrations.submission.tasks; the admin permissions
on its models follow them (their content types are renamed, so groups keep what they had)."""

from django.db import migrations

MOVED = [
    # old name, new name, new func, minutes
    ("pas.poll_due_cases", "submission.poll_due_cases", "integrations.submission.tasks.poll_due_cases", 1),
    ("pas.send_due_submissions", "submission.send_due_submissions", "integrations.submission.tasks.send_due_submissions", 1),
    ("pas.escalate", "submission.escalate", "integrations.submission.tasks.escalate", 15),
]
MODELS = ["submission", "exchange", "casetracking", "payerlink"]


def forward(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for old, new, func, minutes in MOVED:
        Schedule.objects.filter(name=old).delete()
        # Keyed on name, as the schedules were first made (idempotent).
        Schedule.objects.update_or_create(
            name=new, defaults={"func": func, "schedule_type": "I", "minutes": minutes, "repeats": -1}
        )
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        # A database migrated before the move has them under "pas"; a new one has neither yet.
        if not ContentType.objects.filter(app_label="submission", model=model).exists():
            ContentType.objects.filter(app_label="pas", model=model).update(app_label="submission")


def backward(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for old, new, func, minutes in MOVED:
        Schedule.objects.filter(name=new).delete()
        Schedule.objects.update_or_create(
            name=old,
            defaults={"func": func.replace(".submission.", ".pas."), "schedule_type": "I", "minutes": minutes, "repeats": -1},
        )
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="submission", model__in=MODELS).update(app_label="pas")


class Migration(migrations.Migration):
    dependencies = [
        ("submission", "0002_with_staff_state"),
        ("django_q", "__latest__"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(forward, backward)]
