"""The admin permissions on SummaryRewrite follow the model to this app: its content type is
renamed (ehr_fhir -> llm), so groups keep what they had."""

from django.db import migrations

MODELS = ["summaryrewrite"]


def forward(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        # A database migrated before the move has it under "ehr_fhir"; a new one has neither yet.
        if not ContentType.objects.filter(app_label="llm", model=model).exists():
            ContentType.objects.filter(app_label="ehr_fhir", model=model).update(app_label="llm")


def backward(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="llm", model__in=MODELS).update(app_label="ehr_fhir")


class Migration(migrations.Migration):
    dependencies = [("llm", "0001_initial"), ("contenttypes", "0002_remove_content_type_name")]
    operations = [migrations.RunPython(forward, backward)]
