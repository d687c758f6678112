"""The channel-neutral engine's models moved to integrations.submission (its 0001 takes them into
its state). Their tables keep their names: state only, no row moves."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("pas", "0005_subscription_schedules")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="Exchange"),
                migrations.DeleteModel(name="Submission"),
                migrations.DeleteModel(name="CaseTracking"),
                migrations.DeleteModel(name="PayerLink"),
            ],
        ),
    ]
