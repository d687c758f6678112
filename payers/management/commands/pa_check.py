import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from payers.codes import CodeError, code_key
from payers.models import CodeSystem, Payer, Plan
from payers.rules import RuleConflict, check_order

_CODE_SYSTEMS = {value.lower(): value for value in CodeSystem.values}


class Command(BaseCommand):
    help = (
        "Does this order need prior authorization? Prints required / not_required / unknown with the "
        "deciding rule, its channel and documentation requirements. A plan without rules of its own "
        "uses the payer-wide rules."
    )

    def add_arguments(self, parser):
        parser.add_argument("--payer", required=True, help="Payer name (case-insensitive).")
        parser.add_argument("--code", required=True)
        parser.add_argument("--code-system", default=CodeSystem.CPT, help="CPT (default), HCPCS, NDC or RxNorm.")
        parser.add_argument("--plan", default="", help="Plan name; omitted means payer-wide rules only.")
        parser.add_argument("--site", default="", help="CMS place-of-service code, e.g. 11 or 22.")
        parser.add_argument(
            "--dx", action="append", default=[], help="ICD-10-CM code; repeat or give a comma-separated list."
        )
        parser.add_argument("--date", default="", help="Service date YYYY-MM-DD; default today.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, **opts):
        payer = Payer.objects.filter(name__iexact=opts["payer"].strip()).first()
        if payer is None:
            known = ", ".join(Payer.objects.values_list("name", flat=True)[:20]) or "none"
            raise CommandError(f"Unknown payer '{opts['payer']}'. Known payers: {known}.")
        plan = None
        if opts["plan"].strip():
            plan = Plan.objects.filter(payer=payer, name__iexact=opts["plan"].strip()).first()
            if plan is None:
                known = ", ".join(payer.plans.values_list("name", flat=True)) or "none"
                raise CommandError(f"Unknown plan '{opts['plan']}' for {payer.name}. Its plans: {known}.")
        code_system = _CODE_SYSTEMS.get(opts["code_system"].strip().lower())
        if code_system is None:
            raise CommandError(f"Unknown code system '{opts['code_system']}' (one of {', '.join(CodeSystem.values)}).")
        try:
            code_key(code_system, opts["code"])
        except CodeError as exc:
            raise CommandError(str(exc)) from exc
        try:
            on = date.fromisoformat(opts["date"]) if opts["date"] else timezone.localdate()
        except ValueError as exc:
            raise CommandError(f"--date '{opts['date']}' is not YYYY-MM-DD.") from exc
        diagnoses = [d.strip() for item in opts["dx"] for d in item.split(",") if d.strip()]
        try:
            decision = check_order(
                payer=payer,
                plan=plan,
                code_system=code_system,
                code=opts["code"],
                on=on,
                site=opts["site"],
                diagnoses=diagnoses,
            )
        except RuleConflict as exc:
            raise CommandError(str(exc)) from exc
        if opts["json"]:
            self.stdout.write(json.dumps(decision.as_dict()))
            return
        self.stdout.write(f"{decision.decision}: {decision.reason}")
        if decision.benefit:
            self.stdout.write(f"Benefit: {decision.benefit}")
        if decision.channel:
            self.stdout.write(f"Channel: {decision.channel}")
        if decision.rule and decision.rule.criteria_reference:
            self.stdout.write(f"Criteria: {decision.rule.criteria_reference}")
        for requirement in decision.requirements:
            self.stdout.write(f"  - {requirement['description']}")
