from django.db import migrations

NAME = "fax: redial, fetch received faxes, sandbox reports"


def create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={"func": "integrations.fax.tasks.redial_due", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("fax", "0001_initial"), ("django_q", "__latest__")]
    operations = [migrations.RunPython(create, remove)]
