from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cases.demo import demo_logins_text, demo_seed
from cases.priority import case_priority_refresh


class Command(BaseCommand):
    help = "Build the demo practice (idempotent; embedded setup only) and print the demo logins."

    def add_arguments(self, parser):
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="Where this app is served; the demo EHR connection points at its sandbox EHR there.",
        )

    def handle(self, *args, base_url, **options):
        # Demo logins share one published password: never on a production installation.
        if settings.PRODUCTION or not settings.DEMO_MODE:
            raise CommandError("seed_demo runs only in the embedded demo setup (DEMO_MODE on, PRODUCTION off).")
        demo_seed(base_url=base_url, out=self.stdout.write)
        # The demo sets its clocks back with QuerySet.update(): bring the queue's stored order up to date now
        # rather than at the next hourly refresh.
        case_priority_refresh()
        self.stdout.write(demo_logins_text())
