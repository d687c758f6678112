import json
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cases.simulation.engine import run_discard, run_simulation
from cases.simulation.report import figures, store, text_report
from cases.simulation.workers import ClusterFailed


class Command(BaseCommand):
    help = (
        "Run a simulated practice through the product on an accelerated clock and report its figures "
        "(docs/outcomes.md). Synthetic data only; what it creates is deleted afterwards unless --keep."
    )

    def add_arguments(self, parser):
        parser.add_argument("--providers", type=int, default=10)
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--manual-baseline", action="store_true", help="Run with the automation off.")
        parser.add_argument("--compare", action="store_true", help="Run both: automated, then the manual baseline.")
        parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
        parser.add_argument("--no-store", action="store_true", help="Do not keep the figures for the dashboard.")
        parser.add_argument("--keep", action="store_true", help="Keep the run's practice, cases and staff.")
        parser.add_argument(
            "--workers",
            type=int,
            default=2,
            help="Cluster workers the run starts for its tasks (a qcluster of its own); 0 runs them inline.",
        )

    def handle(self, *args, providers, days, seed, manual_baseline, compare, no_store, keep, workers, **options):
        if settings.PRODUCTION:
            raise CommandError("simulate_practice writes a synthetic practice: never on a production database.")
        if not 1 <= providers <= 50:
            raise CommandError("--providers must be between 1 and 50.")
        if not 1 <= days <= 90:
            raise CommandError("--days must be between 1 and 90.")
        if not 0 <= workers <= 8:
            raise CommandError("--workers must be between 0 (inline) and 8.")
        modes = [False, True] if compare else [manual_baseline]
        results = []
        for manual in modes:
            started = time.monotonic()
            try:
                run = run_simulation(seed=seed, providers=providers, days=days, manual=manual, workers=workers)
            except ClusterFailed as exc:
                raise CommandError(str(exc)) from exc
            result = figures(run)
            elapsed = time.monotonic() - started
            result["elapsed_seconds"] = round(elapsed, 1)
            if not no_store:
                store(result, elapsed_seconds=elapsed)
            if not keep:
                run_discard(run)
            results.append(result)
            if not options["json"]:
                self.stderr.write(f"{result['mode']} run: {elapsed:.0f} s")
            for failure in result["task_failure_samples"]:
                self.stderr.write(f"a cluster task raised: {failure}")
        if options["json"]:
            self.stdout.write(_dumps(results if compare else results[0]))
        else:
            self.stdout.write(text_report(results))


def _dumps(value) -> str:
    return json.dumps(value, indent=1, default=str)
