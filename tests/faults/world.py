"""The fault tests' world and their invariants, shared with the long run (bench/fault_soak.py).

A practice whose PAS payer is the app's own sandbox payer and whose EHR is the app's sandbox EHR, both
served over real HTTP by whatever web server `base_url` names; texts go to the console backend, whose
file (SMS_CONSOLE_FILE) is the carrier's record of what was really sent. `invariant_breaches` reads the
database, the sandbox payer's and EHR's own rows and that file, and lists every breach of the engine's
invariants (docs/reliability.md): an empty list means they all held.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.db.models import Q
from django.utils import timezone

from cases.models import CaseEvent, PriorAuthCase, Status
from integrations.ehr_fhir.models import EhrConnection, SandboxResource, WriteBack
from integrations.ehr_fhir.sandbox_auth import sandbox_connection_fields
from integrations.pas.models import SandboxClaim, SandboxPayer
from integrations.pas.sandbox_auth import sandbox_credentials_ensure
from integrations.sms_twilio.models import DeliveryState, OutboundMessage, PracticeSmsSettings
from integrations.submission.models import PayerLink, Submission
from payers.models import Channel
from tests import factories as f

# What the sandbox's X12 306 review action means for the case.
PAYER_SAYS = {"A1": Status.APPROVED, "A2": Status.PARTIALLY_APPROVED, "A3": Status.DENIED, "A4": Status.PENDED}
FINAL = {Status.APPROVED, Status.PARTIALLY_APPROVED, Status.DENIED}


@dataclass
class World:
    practice: object
    payer: object
    sandbox: SandboxPayer
    provider: object
    cases: list = field(default_factory=list)


def world_build(*, base_url: str, slug: str = "faults", poll_minutes: int = 1, **sandbox) -> World:
    """A practice, its PAS payer played by the sandbox payer at `base_url`, its sandbox EHR, texting all day."""
    practice = f.PracticeFactory(name=f"Fault practice {slug}")
    # Texts may go at any hour: quiet hours would hold them and hide a duplicate until tomorrow.
    PracticeSmsSettings.objects.update_or_create(
        practice=practice, defaults={"send_window_start": dt.time(0, 0), "send_window_end": dt.time(23, 59, 59)}
    )
    # The sandbox EHR asks for a SMART Backend Services token like a real one: a connection with its own key.
    EhrConnection.objects.update_or_create(practice=practice, defaults=sandbox_connection_fields(base_url))
    payer = f.PayerFactory(
        name=f"Fault payer {slug}",
        default_channel=Channel.PAS,
        fhir_base_url=f"{base_url}/sandbox/payer/{slug}/fhir",
        poll_interval_hours=1,
    )
    defaults = {"approve_weight": 1, "partial_weight": 0, "deny_weight": 0, "pend_weight": 0}
    sp = SandboxPayer.objects.create(slug=slug, **{"decision_delay_seconds": 0, **defaults, **sandbox})
    sandbox_credentials_ensure(payer=payer, sandbox=sp, base_url=base_url)
    PayerLink.objects.update_or_create(payer=payer, defaults={"poll_minutes": poll_minutes})
    provider = f.ProviderFactory(practice=practice)
    return World(practice=practice, payer=payer, sandbox=sp, provider=provider)


def world_add_case(world: World, n: int) -> PriorAuthCase:
    """A case ready to submit, its patient textable (a phone of its own) and linked to the EHR."""
    patient = f.PatientFactory(
        practice=world.practice, mobile_phone=f"+1555{n:07d}", sms_consent=True, ehr_id=f"fault-patient-{n}"
    )
    coverage = f.CoverageFactory(patient=patient, payer=world.payer)
    order = f.OrderFactory(
        practice=world.practice, patient=patient, ordering_provider=world.provider, coverage=coverage
    )
    case = f.CaseFactory(order=order, payer=world.payer, status=Status.READY, channel="pas")
    f.gate_met(case)  # what the submission gate asks of a ready case: a summary its clinician attested
    world.cases.append(case)
    return case


def sent_texts(console_file: Path) -> Counter:
    """How many texts the carrier (the console backend's file) took per phone number."""
    if not console_file.exists():
        return Counter()
    return Counter(json.loads(line)["to"] for line in console_file.read_text().splitlines() if line.strip())


def events_per_case(case_ids) -> dict:
    """Counts for the report: submissions accepted, decisions applied, texts sent, write-backs done."""
    return {
        "submissions": Submission.objects.filter(case_id__in=case_ids, state=Submission.State.ACCEPTED).count(),
        "decisions": CaseEvent.objects.filter(
            case_id__in=case_ids, kind=CaseEvent.Kind.STATUS, to_status__in=[*FINAL, Status.PENDED]
        ).count(),
        "texts": OutboundMessage.objects.filter(case_id__in=case_ids, twilio_sid__gt="").count(),
        "write_backs": WriteBack.objects.filter(case_id__in=case_ids, state=WriteBack.State.DONE).count(),
    }


def invariant_breaches(case_ids, *, texts_at_carrier: Counter, final: bool = True) -> list[str]:
    """Every breach of the invariants for these cases; `final`: every case must have its decision by now.
    `texts_at_carrier`: how many texts the carrier took per phone number."""
    breaches: list[str] = []
    written = Counter()
    for row in SandboxResource.objects.filter(resource_type="Task"):
        for ident in row.body.get("identifier") or []:
            written[ident.get("value")] += 1
    cases = PriorAuthCase.objects.filter(pk__in=case_ids).select_related("patient")
    for case in cases:
        where = f"case {case.pk}"
        requests = Submission.objects.filter(case=case, kind=Submission.Kind.REQUEST)
        accepted = [s for s in requests if s.state == Submission.State.ACCEPTED]
        # One request per case, accepted once; the payer holds one request under its key.
        if requests.count() != 1 or len(accepted) != 1:
            breaches.append(f"{where}: {requests.count()} request(s), {len(accepted)} accepted")
            continue
        sub = accepted[0]
        at_payer = SandboxClaim.objects.filter(claim_identifier__startswith=f"case-{case.pk}-")
        if at_payer.filter(claim_identifier=sub.idempotency_key).count() != 1:
            breaches.append(f"{where}: the payer does not hold exactly one request {sub.idempotency_key}")
            continue
        said = PAYER_SAYS[at_payer.get(claim_identifier=sub.idempotency_key).review_action]
        # The final status matches the payer, reached once, never left backwards.
        if final and case.status != said:
            breaches.append(f"{where}: status {case.status}, the payer said {said}")
        moves = list(
            CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.STATUS)
            .order_by("pk")
            .values_list("from_status", "to_status")
        )
        applied = Counter(to for _, to in moves)
        for status, n in applied.items():
            if status != Status.SUBMITTED and n > 1:
                breaches.append(f"{where}: decision {status} applied {n} times")
        if any(frm in FINAL for frm, _ in moves):
            breaches.append(f"{where}: left a final status: {moves}")
        if case.status in FINAL:
            # The chart entry: one write-back row per status the case reached (submitted, then the decision), each
            # done once, and the case's one resource in the EHR (created once, then updated in place).
            wbs = list(WriteBack.objects.filter(case=case, purpose=WriteBack.Purpose.CHART))
            per_status = Counter(w.decision for w in wbs)
            if any(n > 1 for n in per_status.values()) or case.status not in per_status:
                breaches.append(f"{where}: write-backs per status {dict(per_status)}")
            elif any(w.state != WriteBack.State.DONE for w in wbs):
                breaches.append(f"{where}: write-backs {[w.state for w in wbs]}")
            elif any(written[v] != 1 for v in {w.identifier_value for w in wbs}):
                breaches.append(f"{where}: written {[written[w.identifier_value] for w in wbs]} times in the EHR")
        # One text per decision, and the carrier took exactly as many as the outbox says were sent.
        texts = list(OutboundMessage.objects.filter(case=case))
        per_event = Counter(m.event_id for m in texts)
        if any(n > 1 for n in per_event.values()):
            breaches.append(f"{where}: more than one text for one event: {per_event}")
        sent = [m for m in texts if m.twilio_sid]
        if texts_at_carrier[case.patient.mobile_phone] != len(sent):
            breaches.append(
                f"{where}: the carrier took {texts_at_carrier[case.patient.mobile_phone]} text(s), "
                f"the outbox sent {len(sent)}"
            )
        if final and case.status in FINAL and len(sent) != applied[case.status]:
            breaches.append(f"{where}: {len(sent)} text(s) sent for {applied[case.status]} decision(s)")
    breaches += stuck_rows(case_ids)
    return breaches


def stuck_rows(case_ids, *, now=None) -> list[str]:
    """Rows left mid-flight: a sending submission or text, a write-back not done, a waiting case never checked."""
    now = now or timezone.now()
    stuck = []
    for sub in Submission.objects.filter(case_id__in=case_ids, state=Submission.State.SENDING):
        stuck.append(f"submission {sub.pk} still sending (claimed {sub.claimed_at})")
    for msg in OutboundMessage.objects.filter(case_id__in=case_ids).filter(
        Q(delivery_state=DeliveryState.QUEUED)
        | Q(delivery_state=DeliveryState.SENDING) & (Q(twilio_sid__isnull=True) | Q(twilio_sid=""))
    ):
        stuck.append(f"text {msg.pk} still {msg.delivery_state}")
    for wb in WriteBack.objects.filter(
        case_id__in=case_ids, state__in=[WriteBack.State.PENDING, WriteBack.State.RETRY]
    ):
        stuck.append(f"write-back {wb.pk} still {wb.state}")
    for case in PriorAuthCase.objects.filter(pk__in=case_ids, status=Status.SUBMITTED, next_poll_at__isnull=True):
        stuck.append(f"case {case.pk} awaits the payer with no next check")
    return stuck
