import json

from django.core.management.base import BaseCommand, CommandError

from cases.models import Practice
from cases.sweep.models import Bucket
from cases.sweep.services import sweep_run


class Command(BaseCommand):
    help = "Run the sweep now (on demand) and print the bucket counts."

    def add_arguments(self, parser):
        parser.add_argument("--practice", type=int, help="practice id (default: every practice)")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print one JSON object: bucket → count")

    def handle(self, *args, practice=None, as_json=False, **options):
        practices = Practice.objects.order_by("pk")
        if practice is not None:
            practices = practices.filter(pk=practice)
            if not practices.exists():
                raise CommandError(f"No practice with id {practice}.")
        # Several practices: the counts are added up (one object either way).
        totals = dict.fromkeys(Bucket.values, 0)
        for each in practices:
            sweep = sweep_run(practice=each)
            for bucket, count in sweep.counts.items():
                totals[bucket] += count
            if not as_json:
                self.stdout.write(f"{each.name}: sweep {sweep.pk} in {sweep.duration_ms} ms")
        if as_json:
            self.stdout.write(json.dumps(totals))
            return
        for value, label in Bucket.choices:
            self.stdout.write(f"  {label:<28} {totals[value]:>6}")
