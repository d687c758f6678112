"""The simulated practice's shape: what is ordered, how payers behave, what a touch costs a person.

Figures are assumptions chosen to sit near the published ones PRODUCT.md quotes (13–16 staff hours per
provider per week by hand, ~64 % first-pass approval, 4.3 days to a decision); docs/outcomes.md names them.
"""

from __future__ import annotations

from dataclasses import dataclass

from payers.models import Category, CodeSystem


@dataclass(frozen=True)
class Service:
    category: str
    code_system: str
    code: str
    description: str
    weight: int  # share of the order mix
    requirements: tuple[str, ...]  # documentation the payer's rule asks for (descriptions)
    clinician_gap: bool = False  # whether a missing item needs the clinician (else a coordinator finds it)


SERVICES: tuple[Service, ...] = (
    Service(
        Category.ADVANCED_IMAGING,
        CodeSystem.CPT,
        "72148",
        "MRI lumbar spine",
        24,
        ("Six weeks of conservative therapy", "Recent office note"),
        False,
    ),
    Service(
        Category.ADVANCED_IMAGING,
        CodeSystem.CPT,
        "70553",
        "MRI brain with and without contrast",
        10,
        ("Neurological exam note",),
        True,
    ),
    Service(
        Category.INFUSION,
        CodeSystem.HCPCS,
        "J1745",
        "Infliximab infusion",
        12,
        ("TB screening within 12 months", "Failed methotrexate trial"),
        True,
    ),
    Service(
        Category.SPECIALTY_PHARMACY,
        CodeSystem.HCPCS,
        "J0135",
        "Adalimumab (buy-and-bill)",
        14,
        ("Failed conventional DMARD", "Diagnosis confirmed by specialist"),
        True,
    ),
    Service(
        Category.DME,
        CodeSystem.HCPCS,
        "E0601",
        "CPAP device",
        10,
        ("Sleep study report (AHI)", "Face-to-face visit note"),
        False,
    ),
    Service(
        Category.SURGERY,
        CodeSystem.CPT,
        "29881",
        "Knee arthroscopy",
        14,
        ("Weight-bearing knee X-ray report", "Physical therapy notes"),
        False,
    ),
    Service(Category.SLEEP, CodeSystem.CPT, "95810", "Polysomnography", 16, ("Epworth Sleepiness Scale score",), True),
)

# Orders that need no authorization arrive too (detection or a person must still tell them apart).
NOT_REQUIRED_SERVICE = Service(Category.OTHER, CodeSystem.CPT, "73560", "Knee X-ray", 0, ())
NOT_REQUIRED_SHARE = 0.2
PA_ORDERS_PER_PROVIDER_PER_MONTH = 60
URGENT_SHARE = 0.08  # "stat": expedited review (72 h under CMS-0057-F)
MISSING_DOC_SHARE = 0.3  # chance that one required item is not in the chart when the order is placed


@dataclass(frozen=True)
class PayerProfile:
    name: str
    cms_impacted: bool
    share: int  # of patients covered
    median_hours: float  # payer's turnaround once it has a request
    approve_complete: float  # first answer to a complete packet
    pend_complete: float
    approve_incomplete: float  # first answer to a packet missing something
    pend_incomplete: float
    stall_rate: float  # a request the payer sits on (no answer until somebody calls)
    outage_days: tuple[int, ...] = ()  # days (from the start) the payer's API answers 503 from 09:00 to 13:00


PAYERS: tuple[PayerProfile, ...] = (
    PayerProfile("Sim Medicare Advantage", True, 35, 30, 0.88, 0.07, 0.40, 0.35, 0.04, (3,)),
    PayerProfile("Sim Medicaid MCO", True, 25, 48, 0.85, 0.09, 0.35, 0.38, 0.06),
    PayerProfile("Sim Commercial PPO", False, 40, 72, 0.84, 0.09, 0.38, 0.32, 0.08, (11,)),
)

# Minutes of a person's time per touch (PRODUCT.md's manual figures are what these add up to by hand).
COST = {
    "review_order": 6,  # by hand: look the order up against the payer's rules
    "open_case": 1,
    "check_requirement": 7,  # by hand: read the chart for one documentation item
    "find_document": 12,  # a coordinator finds / uploads one missing item
    "clinician_input": 10,  # a clinician writes what is missing or answers the payer
    "attest_summary": 3,  # the ordering clinician reads the drafted summary and attests it
    "submit_click": 2,  # the packet is assembled: review and submit
    "portal_entry": 25,  # by hand: key the request into a portal / fax it with a cover
    "send_update": 3,
    "fax_update": 15,
    "status_call": 12,  # phone or portal check on a request
    "escalation_call": 15,
    "work_denial": 20,
    "reschedule": 3,
    "call_patient": 5,
    "ehr_entry": 5,  # by hand: type the authorization into the chart
    "other_task": 5,
}

MANUAL_GAP_NOTICED = 0.6  # by hand, a missing item is noticed before submission this often
MANUAL_CHECK_EVERY_HOURS = 72  # by hand, a request is chased about every three days
STALL_NUDGE_HOURS = 24  # a stalled request is decided within a day of somebody calling
