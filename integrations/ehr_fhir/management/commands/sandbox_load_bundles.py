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
                bundle = json.loads(Path(name).read_text(encoding="utf-8"))
                count = load_bundle(bundle)
            except RecursionError as exc:
                raise CommandError(f"{name}: JSON nested too deeply; nothing from this file was loaded") from exc
            except (OSError, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
                raise CommandError(f"{name}: {exc}; nothing from this file was loaded") from exc
            self.stdout.write(f"{name}: {count} resources loaded")
