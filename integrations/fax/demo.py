"""Demo wiring (embedded setup only): the fax payers send and receive through the sandbox fax service.

Called by `cases.demo.demo_seed` after the seed. A ready fax case a coordinator
submits is "delivered" by the sandbox a minute later (the fax schedule
reports it). For the fax payers' cases already with the payer, answer faxes
arrive: two quote our reference and are filed to their case with a task to
record what they say; one quotes nothing usable and waits in the inbox. Portal
payers get a portal address and instructions for the guide.
"""

from __future__ import annotations

import io

from cases.models import PriorAuthCase, Status
from cases.reference import case_reference
from integrations.fax.sandbox import sandbox_receive
from integrations.fax.services import e164
from payers.models import Channel


def letter(*lines: str) -> bytes:
    """A one-page payer letter with a text layer, as a payer's fax server would send it."""
    from fpdf import FPDF

    pdf = FPDF(format="letter")
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    for line in lines:
        pdf.cell(0, 8, line.encode("latin-1", "replace").decode("latin-1"), new_x="LMARGIN", new_y="NEXT")
    buffer = io.BytesIO()
    pdf.output(buffer)
    return buffer.getvalue()


def demo_fax_sandbox(*, practice, payers, out=None, **_) -> int:
    say = out or (lambda *_: None)
    for payer in payers:
        if payer.default_channel == Channel.PORTAL and not payer.portal_url:
            payer.portal_url = f"https://provider.example.org/{payer.pk}/prior-auth"
            payer.portal_instructions = (
                "Sign in with the practice's portal account. Authorizations > Create request > "
                "Outpatient. Copy the fields below in order; upload the submission packet as one PDF "
                "under Clinical documents; note the request number the portal shows."
            )
            payer.save(update_fields=["portal_url", "portal_instructions"])
    fax_payers = [p for p in payers if p.default_channel == Channel.FAX]
    waiting = list(
        PriorAuthCase.objects.filter(practice=practice, payer__in=fax_payers, status=Status.SUBMITTED)
        .select_related("payer", "patient")
        .order_by("pk")[:3]
    )
    to = e164(practice.fax)
    if not waiting or not to:
        return 0
    for case in waiting[:2]:
        sandbox_receive(
            to=to,
            content=letter(
                f"{case.payer.name} - Utilization Management",
                f"Re: your request {case_reference(case.pk)}",
                "Determination: APPROVED",
                f"Authorization number DEMO-{case.pk:05d}",
            ),
        )
    last = waiting[-1]
    sandbox_receive(
        to=to,
        content=letter(
            f"{last.payer.name} - Utilization Management",
            f"Regarding your patient {last.patient.first_name} (member record on file)",
            "We need the most recent office notes before we can decide. Please fax them within 14 days.",
        ),
    )
    say(f"Sandbox fax: {len(waiting[:2])} payer answer(s) filed to their cases, 1 waiting in the fax inbox.")
    return len(waiting)
