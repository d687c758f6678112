"""Seed English and Spanish templates for existing practices, and the every-minute send schedule."""

from django.db import migrations

SCHEDULE_NAME = "sms: send due texts"


def forwards(apps, schema_editor):
    from integrations.sms_twilio.rendering import templates_seed_for_practice

    Practice = apps.get_model("cases", "Practice")
    MessageTemplate = apps.get_model("sms_twilio", "MessageTemplate")
    for practice in Practice.objects.all():
        templates_seed_for_practice(practice=practice, template_model=MessageTemplate)

    # Idempotent, keyed on the name. Misses are not replayed (catch_up is off
    # cluster-wide): one run picks up everything due anyway.
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": "integrations.sms_twilio.tasks.send_due_texts",
            "schedule_type": "I",
            "minutes": 1,
            "repeats": -1,
        },
    )


def backwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("sms_twilio", "0001_initial"),
        ("cases", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
