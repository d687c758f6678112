"""Cases sent by hand that were already with their payer before follow-ups existed had no next check
(they were taken off the poll index). Give each one, counted from its last move by the payer's
follow-up interval, so the poll loop follows them up like any new one."""

from datetime import timedelta

from django.db import migrations

AWAITING = ["submitted", "pended", "appealed"]
AUTOMATED = ["pas"]  # the automated channels when this migration was written


def forward(apps, schema_editor):
    Case = apps.get_model("cases", "PriorAuthCase")
    waiting = Case.objects.filter(status__in=AWAITING, next_poll_at__isnull=True, payer__isnull=False)
    for case in waiting.exclude(channel__in=AUTOMATED).select_related("payer").iterator():
        if not case.channel and case.payer.default_channel in AUTOMATED:
            continue
        when = case.status_changed_at + timedelta(hours=case.payer.follow_up_hours)
        Case.objects.filter(pk=case.pk).update(next_poll_at=when)


class Migration(migrations.Migration):
    dependencies = [
        ("submission", "0003_schedules_and_content_types"),
        ("payers", "0003_payer_follow_up_hours"),
        ("cases", "0008_practice_fax_submission_packet"),
    ]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
