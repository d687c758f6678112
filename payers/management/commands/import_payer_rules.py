from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from payers.csv_io import HEADER, ImportFailed, import_rules
from payers.models import PayerRule
from payers.rules import find_conflicts


class Command(BaseCommand):
    help = (
        "Import payer rules from a CSV file with the header "
        f"{','.join(HEADER)}. Validates every row first and imports nothing if any row is wrong; "
        "re-importing the same file changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV file (UTF-8).")

    def handle(self, *args, file, **options):
        path = Path(file)
        try:
            with path.open(encoding="utf-8", newline="") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        try:
            result = import_rules(text)
        except ImportFailed as exc:
            raise CommandError(
                f"{path}: {len(exc.errors)} error(s); nothing was imported.\n" + "\n".join(exc.errors)
            ) from exc
        for name in result.payers_created:
            self.stdout.write(f"Created payer: {name}")
        for name in result.plans_created:
            self.stdout.write(f"Created plan: {name}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Rules: {result.created} created, {result.updated} updated, {result.unchanged} unchanged."
            )
        )
        conflicts = find_conflicts(PayerRule.objects.select_related("payer", "plan"))
        if conflicts:
            pairs = ", ".join(f"#{a.pk}/#{b.pk}" for a, b in conflicts[:20])
            self.stderr.write(
                self.style.WARNING(f"Warning: {len(conflicts)} pair(s) of conflicting rules ({pairs}); see admin.")
            )
