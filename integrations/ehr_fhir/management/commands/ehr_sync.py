import json

from django.core.management.base import BaseCommand, CommandError

from cases.models import Practice
from integrations.ehr_fhir.intake import SyncBusy, sync_practice
from integrations.ehr_fhir.models import EhrConnection


class Command(BaseCommand):
    help = "Run one EHR order-intake sync now and print what it created, updated and skipped."

    def add_arguments(self, parser):
        parser.add_argument("--practice", type=int, help="Practice id (default: every practice with a connection).")
        parser.add_argument("--json", action="store_true", help="Print JSON.")

    def handle(self, *args, practice=None, json=False, **options):
        ids = [practice] if practice else list(EhrConnection.objects.values_list("practice_id", flat=True))
        if not ids:
            raise CommandError("No practice has an EHR connection.")
        results = []
        for pk in ids:
            try:
                run = sync_practice(practice=Practice.objects.get(pk=pk))
            except (Practice.DoesNotExist, EhrConnection.DoesNotExist) as exc:
                raise CommandError(f"Practice {pk} has no EHR connection.") from exc
            except SyncBusy as exc:
                results.append({"practice": pk, "run_state": "busy", "error": str(exc)})
                continue
            results.append(
                {
                    "practice": pk,
                    "sync_run": run.pk,
                    "run_state": run.run_state,
                    **run.counts(),
                    "skipped_reasons": run.skipped_reasons,
                    "error": run.error,
                }
            )
        if json:
            self.stdout.write(_dumps(results))
            return
        for r in results:
            line = f"practice {r['practice']}: {r['run_state']}"
            if "created" in r:
                line += f" — created {r['created']}, updated {r['updated']}, skipped {r['skipped']}"
            if r.get("error"):
                line += f" — {r['error']}"
            self.stdout.write(line)
            for s in r.get("skipped_reasons", []):
                self.stdout.write(f"  skipped {s['resource']}: {s['reason']}")


def _dumps(value) -> str:
    return json.dumps(value, indent=2, default=str)
