import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations.ehr_fhir.sandbox import load_bundle


class Command(BaseCommand):
    help = "Load FHIR transaction/collection bundles (e.g. Synthea output) into the built-in sandbox EHR."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+")

    def handle(self, *args, files, **options):
        if not settings.SANDBOX_ENABLED:
            raise CommandError("The sandbox EHR is off (SANDBOX_ENABLED).")
        for name in files:
            try:
                bundle = json.loads(Path(name).read_text())
                count = load_bundle(bundle)
            except (OSError, ValueError) as exc:
                raise CommandError(f"{name}: {exc}") from exc
            self.stdout.write(f"{name}: {count} resources loaded")
