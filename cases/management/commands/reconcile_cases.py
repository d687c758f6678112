import json

from django.core.management.base import BaseCommand, CommandError

from cases.models import Practice, PriorAuthCase
from cases.readiness import GATED, case_reconcile


class Command(BaseCommand):
    help = (
        "Bring every gathering / needs-clinician / ready case in line with the submission gate "
        "(cases/readiness.py): redraft drafted summaries, open and close gap and attestation tasks, "
        "move cases whose blockers are gone. Idempotent; for cases written before the gate existed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--practice", type=int, help="practice id (default: every practice)")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print {from → to: count}")

    def handle(self, *args, practice=None, as_json=False, **options):
        cases = PriorAuthCase.objects.filter(status__in=list(GATED)).order_by("pk")
        if practice is not None:
            if not Practice.objects.filter(pk=practice).exists():
                raise CommandError(f"No practice with id {practice}.")
            cases = cases.filter(practice_id=practice)
        moves: dict[str, int] = {}
        for pk, before in cases.values_list("pk", "status"):
            after = case_reconcile(case=PriorAuthCase(pk=pk))
            key = f"{before} -> {after}"
            moves[key] = moves.get(key, 0) + 1
        if as_json:
            self.stdout.write(json.dumps(moves, sort_keys=True))
            return
        for key, n in sorted(moves.items()):
            self.stdout.write(f"  {key:<40} {n:>6}")
