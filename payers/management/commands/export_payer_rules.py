from django.core.management.base import BaseCommand, CommandError

from payers.csv_io import export_rules


class Command(BaseCommand):
    help = (
        "Export payer rules as CSV (the import format). Cells a spreadsheet would run as a formula "
        "are prefixed with a single quote. Every rule is written, with its site-of-service and diagnosis "
        "conditions in the last two columns."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", help="File to write; standard output when omitted.")

    def handle(self, *args, output=None, **options):
        if output:
            try:
                with open(output, "w", encoding="utf-8", newline="") as out:
                    count = export_rules(out)
            except OSError as exc:
                raise CommandError(f"Cannot write {output}: {exc}") from exc
            self.stderr.write(f"Wrote {count} rule(s) to {output}.")
        else:
            # The csv writer writes whole lines, so OutputWrapper adds no extra line endings.
            export_rules(self.stdout)
