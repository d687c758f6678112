"""SummaryRewrite (the LLM audit rows) moved to integrations.llm (its 0001 takes it into its
state). The table keeps its name: state only, no row moves."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("ehr_fhir", "0002_schedules")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name="SummaryRewrite")],
        ),
    ]
