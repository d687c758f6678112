"""The demo practice: `python manage.py seed_demo` (embedded setup only).

Synthetic people only: names come from the short lists below, phone numbers
from the 555-01xx range reserved for fiction, member ids and MRNs are made up.
Everything is drawn from one seeded random generator, so two machines get
the same practice.

Cases are not written in their final state: each order goes through
detection (`case_open_for_order`) and is walked through `transition()`,
so statuses, timelines and tasks are what the application itself writes.
The walk then moves the clocks back so the timeline reads as weeks of work.
That history is the past, so the receivers that would act on a move now (text
the patient, write back to the EHR, assemble a packet) are disconnected
while it is written; cases left with the payer are polled for real once the
cluster runs.
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from cases.detection import case_open_for_order
from cases.models import (
    CaseEvent,
    Coverage,
    Location,
    Order,
    Patient,
    Practice,
    PriorAuthCase,
    Provider,
    RequirementStatus,
    Role,
    Status,
    Task,
    User,
)
from cases.services import case_add_note, case_assign, case_event_add, task_create, task_mark_done
from cases.transitions import case_status_changing, case_transitioned, transition
from cases.words import date_words
from payers.models import (
    Benefit,
    Category,
    Channel,
    CodeSystem,
    DocumentationRequirement,
    LineOfBusiness,
    Payer,
    PayerRule,
    Plan,
    RequirementKind,
    RequiresPA,
    WhoCloses,
)

PRACTICE_NAME = "Riverside Medical Group"
DEMO_PASSWORD = "demo-pass-2026"
SYNTHEA_BUNDLE = Path(settings.BASE_DIR) / "tests" / "fixtures" / "synthea" / "patient_bundle.json"

# (order, callable) an integration adds with `demo_hook_register`: it connects its sandbox to the
# seeded practice. Called with practice, base_url, providers, payers and out (a line printer).
_DEMO_HOOKS: list = []


def demo_hook_register(hook, *, order: int = 100) -> None:
    """Let an integration wire its sandbox into the demo practice after the cases are seeded."""
    if all(existing is not hook for _, existing in _DEMO_HOOKS):
        _DEMO_HOOKS.append((order, hook))


# (username, first, last, role, provider index or None)
DEMO_USERS = [
    ("coordinator", "Casey", "Morgan", Role.COORDINATOR, None),
    ("coordinator2", "Jordan", "Ellis", Role.COORDINATOR, None),
    ("manager", "Morgan", "Reyes", Role.MANAGER, None),
    ("clinician", "Alan", "Okafor", Role.CLINICIAN, 6),
    ("frontdesk", "Frankie", "Doyle", Role.FRONT_DESK, None),
    ("admin", "Ada", "Admin", Role.ADMIN, None),
]

LOCATIONS = [("Main Campus", "22"), ("Eastside Clinic", "11"), ("Infusion Center", "19")]

# (first, last, credentials, specialty, location index)
PROVIDERS = [
    ("Priya", "Raman", "MD", "Primary care", 1),
    ("Thomas", "Becker", "DO", "Primary care", 1),
    ("Helen", "Cho", "MD", "Cardiology", 0),
    ("Marcus", "Whitfield", "MD", "Cardiology", 0),
    ("Sofia", "Alvarez", "MD", "Oncology", 2),
    ("Daniel", "Park", "MD", "Oncology", 2),
    ("Alan", "Okafor", "MD", "Orthopedics", 0),
    ("Grace", "Lindqvist", "MD", "Orthopedics", 0),
    ("Samuel", "Nguyen", "MD", "Gastroenterology", 0),
    ("Irene", "Kowalski", "MD", "Gastroenterology", 1),
]


@dataclass(frozen=True)
class PayerSpec:
    name: str
    payer_id: str
    cms_impacted: bool
    channel: str
    plans: tuple[tuple[str, str], ...]
    poll_hours: int
    stall_hours: int
    turnaround_days: int


PAYERS = [
    PayerSpec(
        "Harbor Medicare Advantage",
        "HMA01",
        True,
        Channel.PAS,
        (
            ("Harbor MA Choice (HMO)", LineOfBusiness.MEDICARE_ADVANTAGE),
            ("Harbor Dual Complete", LineOfBusiness.MEDICARE_ADVANTAGE),
        ),
        4,
        48,
        7,
    ),
    PayerSpec(
        "Lakeshore Community Medicaid",
        "LCM22",
        True,
        Channel.PAS,
        (("Lakeshore Medicaid Managed Care", LineOfBusiness.MEDICAID),),
        6,
        48,
        7,
    ),
    PayerSpec(
        "Pioneer Health Exchange",
        "PHX30",
        True,
        Channel.PAS,
        (("Pioneer Silver (QHP)", LineOfBusiness.EXCHANGE), ("Pioneer Gold (QHP)", LineOfBusiness.EXCHANGE)),
        8,
        72,
        7,
    ),
    PayerSpec(
        "Summit Health Plan",
        "SHP44",
        False,
        Channel.PORTAL,
        (("Summit PPO", LineOfBusiness.COMMERCIAL), ("Summit HMO", LineOfBusiness.COMMERCIAL)),
        12,
        96,
        14,
    ),
    PayerSpec(
        "Crescent Blue",
        "CRB55",
        False,
        Channel.X12_278,
        (("Crescent Blue PPO", LineOfBusiness.COMMERCIAL),),
        12,
        96,
        10,
    ),
    PayerSpec(
        "Meridian National",
        "MRN66",
        False,
        Channel.FAX,
        (("Meridian Choice", LineOfBusiness.COMMERCIAL),),
        24,
        120,
        15,
    ),
]


# A typical allowed amount per service line (USD), so the practice's "approval only above a cost" setting has
# something to compare in the demo. Fixed per line, not drawn: the demo's random sequence stays as it was.
DEMO_COST = {
    "advanced_imaging": 1200,
    "infusion": 6500,
    "specialty_pharmacy": 4800,
    "dme": 900,
    "surgery": 14000,
    "sleep": 1800,
    "cardiology": 3200,
    "gi": 2100,
}


@dataclass(frozen=True)
class Service:
    """One orderable thing: its code, who orders it and what the payer list says."""

    kind: str
    system: str
    code: str
    description: str
    category: str
    specialties: tuple[str, ...]
    diagnoses: tuple[str, ...]
    requires_pa: str  # yes / no / unknown / "" (no rule at all: a person checks)
    quantity: int = 1
    units: str = "UN"
    requirements: tuple[tuple, ...] = ()


# Requirement tuples: (kind, description, who closes, extra fields).
NOTE_30 = (RequirementKind.NOTE, "Office note within 30 days", WhoCloses.COORDINATOR, {"lookback_days": 30})
PT_6W = (
    RequirementKind.THERAPY,
    "Physical therapy ≥ 6 weeks in the last 6 months",
    WhoCloses.CLINICIAN,
    {"procedure_code": "97110", "min_duration_days": 42, "lookback_days": 180},
)
HBA1C = (
    RequirementKind.LAB,
    "HbA1c within 90 days",
    WhoCloses.COORDINATOR,
    {"loinc_code": "4548-4", "lookback_days": 90},
)
EGFR = (
    RequirementKind.LAB,
    "eGFR within 30 days (contrast)",
    WhoCloses.COORDINATOR,
    {"loinc_code": "33914-3", "lookback_days": 30},
)
METFORMIN_TRIAL = (
    RequirementKind.MEDICATION_TRIAL,
    "Metformin tried ≥ 90 days in the last year",
    WhoCloses.CLINICIAN,
    {"rxnorm_code": "6809", "drug_class": "metformin", "min_duration_days": 90, "lookback_days": 365},
)
MTX_TRIAL = (
    RequirementKind.MEDICATION_TRIAL,
    "Methotrexate tried ≥ 90 days in the last year",
    WhoCloses.CLINICIAN,
    {"rxnorm_code": "6851", "drug_class": "methotrexate", "min_duration_days": 90, "lookback_days": 365},
)
KNEE_XRAY = (RequirementKind.IMAGING, "Weight-bearing knee X-ray report", WhoCloses.COORDINATOR, {"lookback_days": 365})
ONC_DX = (
    RequirementKind.DIAGNOSIS,
    "Cancer diagnosis on the problem list",
    WhoCloses.CLINICIAN,
    {"diagnosis_prefix": "C"},
)
PATHOLOGY = (RequirementKind.FREE_TEXT, "Pathology report and staging", WhoCloses.COORDINATOR, {})
SLEEP_SCALE = (RequirementKind.FREE_TEXT, "Epworth Sleepiness Scale score", WhoCloses.CLINICIAN, {})
SLEEP_STUDY = (RequirementKind.IMAGING, "Sleep study report (AHI)", WhoCloses.COORDINATOR, {"lookback_days": 365})
STRESS_TEST = (RequirementKind.FREE_TEXT, "Prior stress test or reason it cannot be done", WhoCloses.CLINICIAN, {})

S = Service
SERVICES = [
    S(
        "service",
        "CPT",
        "70553",
        "MRI brain w/o & w/ contrast",
        Category.ADVANCED_IMAGING,
        ("Primary care", "Oncology"),
        ("G43.909", "R51.9"),
        "yes",
        requirements=(NOTE_30, EGFR),
    ),
    S(
        "service",
        "CPT",
        "70551",
        "MRI brain without contrast",
        Category.ADVANCED_IMAGING,
        ("Primary care",),
        ("G43.909",),
        "yes",
        requirements=(NOTE_30,),
    ),
    S(
        "service",
        "CPT",
        "72148",
        "MRI lumbar spine w/o contrast",
        Category.ADVANCED_IMAGING,
        ("Orthopedics", "Primary care"),
        ("M54.16", "M51.26"),
        "yes",
        requirements=(PT_6W, NOTE_30),
    ),
    S(
        "service",
        "CPT",
        "72141",
        "MRI cervical spine w/o contrast",
        Category.ADVANCED_IMAGING,
        ("Orthopedics",),
        ("M54.12",),
        "yes",
        requirements=(PT_6W, NOTE_30),
    ),
    S(
        "service",
        "CPT",
        "74177",
        "CT abdomen & pelvis with contrast",
        Category.ADVANCED_IMAGING,
        ("Gastroenterology", "Oncology"),
        ("R10.9", "C18.9"),
        "yes",
        requirements=(EGFR,),
    ),
    S(
        "service",
        "CPT",
        "71046",
        "Chest X-ray, 2 views",
        Category.OTHER,
        ("Primary care", "Cardiology"),
        ("R05.9",),
        "no",
    ),
    S(
        "medication",
        "HCPCS",
        "J9271",
        "Pembrolizumab infusion, 1 mg",
        Category.INFUSION,
        ("Oncology",),
        ("C34.90",),
        "yes",
        200,
        "MG",
        (ONC_DX, PATHOLOGY),
    ),
    S(
        "medication",
        "HCPCS",
        "J1745",
        "Infliximab infusion, 10 mg",
        Category.INFUSION,
        ("Gastroenterology",),
        ("K50.90", "K51.90"),
        "yes",
        50,
        "MG",
        (NOTE_30,),
    ),
    S(
        "medication",
        "HCPCS",
        "J2505",
        "Pegfilgrastim, 6 mg",
        Category.INFUSION,
        ("Oncology",),
        ("C50.911", "D70.1"),
        "yes",
        1,
        "UN",
        (ONC_DX,),
    ),
    S(
        "medication",
        "RxNorm",
        "327361",
        "Adalimumab pen",
        Category.SPECIALTY_PHARMACY,
        ("Gastroenterology",),
        ("K50.90",),
        "yes",
        2,
        "UN",
        (MTX_TRIAL, NOTE_30),
    ),
    S(
        "medication",
        "RxNorm",
        "1991302",
        "Semaglutide injection",
        Category.SPECIALTY_PHARMACY,
        ("Primary care",),
        ("E11.65",),
        "yes",
        1,
        "UN",
        (HBA1C, METFORMIN_TRIAL),
    ),
    S(
        "device",
        "HCPCS",
        "E0601",
        "CPAP device",
        Category.DME,
        ("Primary care",),
        ("G47.33",),
        "yes",
        requirements=(SLEEP_STUDY, NOTE_30),
    ),
    S(
        "device",
        "HCPCS",
        "K0823",
        "Power wheelchair, group 2",
        Category.DME,
        ("Orthopedics",),
        ("G35", "M62.81"),
        "yes",
        requirements=(NOTE_30,),
    ),
    S(
        "service",
        "CPT",
        "27447",
        "Total knee arthroplasty",
        Category.SURGERY,
        ("Orthopedics",),
        ("M17.11", "M17.12"),
        "yes",
        requirements=(PT_6W, KNEE_XRAY, NOTE_30),
    ),
    S(
        "service",
        "CPT",
        "29881",
        "Knee arthroscopy, meniscectomy",
        Category.SURGERY,
        ("Orthopedics",),
        ("M23.221",),
        "yes",
        requirements=(PT_6W, NOTE_30),
    ),
    S(
        "service",
        "CPT",
        "63030",
        "Lumbar laminotomy / discectomy",
        Category.SURGERY,
        ("Orthopedics",),
        ("M51.16",),
        "yes",
        requirements=(PT_6W, NOTE_30),
    ),
    S(
        "service",
        "CPT",
        "95810",
        "Polysomnography, in-lab",
        Category.SLEEP,
        ("Primary care", "Cardiology"),
        ("G47.33",),
        "yes",
        requirements=(SLEEP_SCALE, NOTE_30),
    ),
    S("service", "CPT", "95806", "Home sleep apnea test", Category.SLEEP, ("Primary care",), ("G47.33",), "no"),
    S(
        "service",
        "CPT",
        "78452",
        "Myocardial perfusion imaging (SPECT)",
        Category.CARDIOLOGY,
        ("Cardiology",),
        ("I25.10", "R07.9"),
        "yes",
        requirements=(STRESS_TEST, NOTE_30),
    ),
    S(
        "service",
        "CPT",
        "93306",
        "Echocardiogram, complete",
        Category.CARDIOLOGY,
        ("Cardiology",),
        ("I50.9", "R01.1"),
        "unknown",
    ),
    S(
        "service",
        "CPT",
        "45378",
        "Colonoscopy, diagnostic",
        Category.GI,
        ("Gastroenterology",),
        ("K92.1", "Z12.11"),
        "no",
    ),
    S(
        "service",
        "CPT",
        "43239",
        "Upper GI endoscopy with biopsy",
        Category.GI,
        ("Gastroenterology",),
        ("K21.9",),
        "no",
    ),
    S("service", "CPT", "93000", "Electrocardiogram", Category.OTHER, ("Cardiology", "Primary care"), ("R00.2",), ""),
]

# How many cases end in each status; the sum is the number of orders.
STATUS_MIX = {
    Status.NEW: 25,
    Status.NOT_REQUIRED: 60,
    Status.RETRO_AUTH: 8,
    Status.GATHERING: 90,
    Status.NEEDS_CLINICIAN: 45,
    Status.READY: 45,
    Status.SUBMITTED: 90,
    Status.PENDED: 35,
    Status.APPROVED: 110,
    Status.PARTIALLY_APPROVED: 20,
    Status.DENIED: 35,
    Status.APPEALED: 12,
    Status.CLOSED: 40,
    Status.CANCELLED: 15,
    Status.EXPIRED: 5,
}
PATIENT_COUNT = 320
# Plan-specific "no PA" exceptions written by `_payers_and_rules` (plan name → codes).
EXEMPT_BY_PLAN = {"Harbor Dual Complete": ("95810",)}

FIRST_NAMES = (
    "Ava Liam Noah Emma Olivia Mia Lucas Ethan Amelia Harper Elijah James Benjamin Evelyn Henry Charlotte Sofia "
    "Mateo Camila Daniel Aria Isabella Leo Grace Chloe Samuel Nora Zoe Ruth Walter Alice Frank Irene Hector Rosa "
    "Miguel Lucia Carmen Jorge Elena Tomas Wei Mei Hiroshi Yuki Amir Leila Omar Fatima Kwame Ama Ivan Olga Pierre "
    "Colette Declan Siobhan Ravi Anjali Tariq Nadia Erik Astrid"
).split()
LAST_NAMES = (
    "Abbott Barnes Calloway Dunmore Eastwood Fairchild Galloway Hargrove Ingram Jessup Kessler Lockhart Maddox "
    "Norwood Oakley Pemberton Quintero Rasmussen Sandoval Thackeray Underhill Vasquez Whitaker Yardley Zimmerman "
    "Alcott Brennan Castellano Delacroix Esposito Fontaine Gutierrez Holloway Iverson Jablonski Kowalczyk Lindgren "
    "Moreau Nakamura Okonkwo Petrov Quigley Rinaldi Sato Takahashi Uribe Varga Wojcik Xiong Yamada Zhou"
).split()

DENIALS = [
    ("CO-50", "Not medically necessary: conservative therapy not documented", True),
    ("CO-197", "Precertification/authorization absent or incomplete documentation", True),
    ("N-115", "Service not covered under the member's plan", False),
    ("CO-15", "Authorization number invalid for the service date", False),
    ("MN-01", "Criteria not met: imaging not indicated without red-flag symptoms", False),
]
# What a payer's request for information asks, by the service's line: a pended MRI asks for imaging or therapy
# notes, not a sleep study.
PEND_REQUESTS = {
    Category.ADVANCED_IMAGING: (
        "Attach the prior imaging report referenced in the note.",
        "Send the last two office notes documenting six weeks of conservative therapy.",
    ),
    Category.INFUSION: (
        "Send the notes documenting the trial and failure of conventional therapy.",
        "Provide the latest labs (CBC, liver panel) and the tuberculosis screening result.",
    ),
    Category.SPECIALTY_PHARMACY: (
        "Send the notes documenting the trial and failure of the preferred drugs.",
        "Provide the HbA1c result from the last 90 days.",
    ),
    Category.DME: ("Send the face-to-face encounter note and the signed order for the equipment.",),
    Category.SURGERY: (
        "Send the last two office notes and the physical therapy discharge summary.",
        "Attach the imaging report that supports the procedure.",
    ),
    Category.SLEEP: ("Send the office note documenting the symptoms and the Epworth Sleepiness Scale score.",),
    Category.CARDIOLOGY: ("Send the prior ECG and the stress test report.",),
    Category.GI: ("Send the office note documenting the symptoms and the treatment tried so far.",),
    Category.OTHER: ("Send the last two office notes.",),
}


def npi_with_check_digit(nine_digits: str) -> str:
    """A 10-digit NPI whose last digit is the Luhn check over the prefix 80840 + 9 digits."""
    digits = [int(d) for d in "80840" + nine_digits]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:  # doubled positions, counted from the right of the payload
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return nine_digits + str((10 - total % 10) % 10)


@contextmanager
def history_only():
    """Disconnect the move receivers while the past is written.

    Seeded decisions were "already" texted and written back; acting on them
    now would text 300 demo patients about old news. Restored on exit.
    """
    saved = []
    for signal in (case_status_changing, case_transitioned):
        with signal.lock:
            saved.append((signal, signal.receivers))
            signal.receivers = []
            signal.sender_receivers_cache.clear()
    try:
        yield
    finally:
        for signal, receivers in saved:
            with signal.lock:
                signal.receivers = receivers
                signal.sender_receivers_cache.clear()


def demo_seed(*, base_url: str = "http://127.0.0.1:8000", out=None) -> dict:
    """Build the demo practice once. Returns counts; a second call changes nothing."""
    say = out or (lambda line: None)
    practice = Practice.objects.filter(name=PRACTICE_NAME).first()
    if practice is not None:
        users = _demo_users(practice, providers=list(practice.providers.order_by("id")))
        say(f"The demo practice exists already ({practice.cases.count()} cases); nothing added.")
        return {"created": False, "cases": practice.cases.count(), "users": [u.username for u in users]}

    rng = random.Random(2026)
    now = timezone.now()
    with history_only(), transaction.atomic():
        practice = Practice.objects.create(
            name=PRACTICE_NAME,
            time_zone="America/New_York",
            phone="(555) 010-4400",
            fax="(555) 010-4401",
            npi="1234567893",
        )
        locations = [Location.objects.create(practice=practice, name=n, place_of_service=pos) for n, pos in LOCATIONS]
        providers = [
            Provider.objects.create(
                practice=practice,
                first_name=first,
                last_name=last,
                credentials=cred,
                npi=npi_with_check_digit(f"{900000100 + i * 7:09d}"),
                specialty=specialty,
                location=locations[loc],
            )
            for i, (first, last, cred, specialty, loc) in enumerate(PROVIDERS)
        ]
        users = _demo_users(practice, providers=providers)
        payers = _payers_and_rules()
        patients = _patients(practice, payers, rng)
        seeder = _CaseSeeder(practice=practice, users=users, rng=rng, now=now)
        orders = _orders(practice, patients, providers, locations, rng, now)
        for order, target, age in orders:
            seeder.seed(order, target, age)
    say(
        f"Seeded {PRACTICE_NAME}: {len(providers)} providers, {len(payers)} payers, {len(patients)} patients, "
        f"{len(orders)} orders and cases."
    )
    # Each integration wires its own sandbox to the practice (registered in its AppConfig.ready).
    for _, hook in sorted(_DEMO_HOOKS, key=lambda h: h[0]):
        hook(practice=practice, base_url=base_url, providers=providers, payers=payers, out=say)
    return {"created": True, "cases": practice.cases.count(), "users": [u.username for u in users]}


def _demo_users(practice: Practice, *, providers: list[Provider]) -> list[User]:
    users = []
    for username, first, last, role, provider_index in DEMO_USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username, first_name=first, last_name=last, practice=practice)
            if provider_index is not None and provider_index < len(providers):
                user.provider = providers[provider_index]
            if role == Role.ADMIN:
                user.is_staff = user.is_superuser = True
            user.set_password(DEMO_PASSWORD)
            user.save()
            user.groups.add(Group.objects.get_or_create(name=role)[0])
        users.append(user)
    # Every provider has an account, as in a practice: the submission gate wants the ordering clinician's (or a
    # delegate's) attestation. Only Dr. Okafor's is a demo login; the others cannot sign in (no usable password).
    clinicians = Group.objects.get_or_create(name=Role.CLINICIAN)[0]
    for provider in providers:
        if User.objects.filter(provider=provider).exists():
            continue
        user = User(
            username=f"dr-{provider.last_name.lower()}-{provider.pk}",
            first_name=provider.first_name,
            last_name=provider.last_name,
            practice=practice,
            provider=provider,
        )
        user.set_unusable_password()
        user.save()
        user.groups.add(clinicians)
    return users


def _payers_and_rules() -> list[Payer]:
    payers = []
    start = date(2025, 1, 1)
    for spec in PAYERS:
        payer, _ = Payer.objects.get_or_create(
            name=spec.name,
            defaults={
                "payer_id": spec.payer_id,
                "cms_impacted": spec.cms_impacted,
                "default_channel": spec.channel,
                "phone": "(555) 010-7700",
                "fax": "(555) 010-7701",
                "poll_interval_hours": spec.poll_hours,
                "stall_threshold_hours": spec.stall_hours,
                "standard_turnaround_hours": spec.turnaround_days * 24,
                "expedited_turnaround_hours": 72,
            },
        )
        for name, lob in spec.plans:
            Plan.objects.get_or_create(payer=payer, name=name, defaults={"line_of_business": lob})
        if payer.rules.exists():
            payers.append(payer)
            continue  # a payer the admin already keeps: leave its list alone
        for service in SERVICES:
            if not service.requires_pa:
                continue  # no rule: the detection answers "unknown" and a person checks
            rule = PayerRule.objects.create(
                payer=payer,
                code_system=service.system,
                code=service.code,
                requires_pa=service.requires_pa,
                category=service.category,
                # Pens and injections the patient fills at a pharmacy are pharmacy benefit (ePA);
                # infusions billed with J-codes are medical (the payer's own channel, PAS included).
                benefit=Benefit.PHARMACY if service.system in ("NDC", "RxNorm") else Benefit.MEDICAL,
                criteria_reference=f"{spec.payer_id}-{service.category[:4].upper()}-{service.code}"
                if service.requires_pa == RequiresPA.YES
                else "",
                effective_from=start,
                notes="Demo rule",
            )
            for position, (kind, description, who, extra) in enumerate(service.requirements):
                DocumentationRequirement.objects.create(
                    rule=rule, kind=kind, description=description, who_closes=who, position=position, **extra
                )
        if spec.name == "Harbor Medicare Advantage":
            # A plan-specific exception beside the payer-wide rule, as payer lists have.
            dual = payer.plans.get(name="Harbor Dual Complete")
            PayerRule.objects.create(
                payer=payer,
                plan=dual,
                code_system=CodeSystem.CPT,
                code="95810",
                requires_pa=RequiresPA.NO,
                category=Category.SLEEP,
                effective_from=start,
                notes="Dual-eligible plan: no PA for in-lab sleep studies",
            )
        payers.append(payer)
    return payers


def _patients(practice: Practice, payers: list[Payer], rng: random.Random) -> list[Patient]:
    patients = []
    area_codes = ["212", "312", "415", "617", "713", "305"]
    for i in range(PATIENT_COUNT):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        consent = rng.random() < 0.7
        patient = Patient.objects.create(
            practice=practice,
            first_name=first,
            last_name=last,
            birth_date=date(1940, 1, 1) + timedelta(days=rng.randrange(0, 65 * 365)),
            mrn=f"RMG{200000 + i}",
            mobile_phone=f"+1{area_codes[i % 6]}55501{i % 100:02d}" if rng.random() < 0.9 else "",
            preferred_language="es" if rng.random() < 0.15 else "en",
            sms_consent=consent,
            sms_consent_at=timezone.now() - timedelta(days=rng.randrange(30, 700)) if consent else None,
        )
        payer = payers[i % len(payers)]
        plan = rng.choice(list(payer.plans.all()))
        Coverage.objects.create(
            patient=patient,
            payer=payer,
            plan=plan,
            member_id=f"{payer.payer_id}{rng.randrange(10**7, 10**8)}",
            group_number=f"G{rng.randrange(1000, 9999)}",
            start=date(2025, 1, 1),
            # The last few patients' coverage ended: their orders show the coverage gap.
            end=date(2026, 6, 30) if i >= PATIENT_COUNT - 4 else None,
        )
        patients.append(patient)
    return patients


def _orders(practice, patients, providers, locations, rng, now):
    """(order, target status, age in days) for every case in STATUS_MIX."""
    by_specialty: dict[str, list[Provider]] = {}
    for provider in providers:
        by_specialty.setdefault(provider.specialty, []).append(provider)
    lapsed = patients[-4:]
    covered = patients[:-4]
    orders = []
    targets = [status for status, count in STATUS_MIX.items() for _ in range(count)]
    rng.shuffle(targets)
    for n, target in enumerate(targets):
        if target == Status.NEW:
            # Unknown: no rule for the code, the payer's "unknown", or no active coverage.
            choice = n % 3
            pool = [s for s in SERVICES if s.requires_pa in ("", "unknown")]
            service = rng.choice(pool)
            patient = rng.choice(lapsed) if choice == 0 else rng.choice(covered)
        elif target == Status.NOT_REQUIRED:
            service = rng.choice([s for s in SERVICES if s.requires_pa == "no"])
            patient = rng.choice(covered)
        else:
            service = rng.choice([s for s in SERVICES if s.requires_pa == "yes"])
            patient = rng.choice(covered)
            while service.code in EXEMPT_BY_PLAN.get(patient.coverages.get().plan.name, ()):
                patient = rng.choice(covered)  # the plan's own rule says "no PA": not this walk
        provider = rng.choice(by_specialty.get(rng.choice(service.specialties), providers))
        age = _age_for(target, rng)
        created = now - timedelta(days=age, hours=rng.randrange(1, 9))  # at least an hour of history
        urgent = target != Status.RETRO_AUTH and rng.random() < 0.12
        scheduled = None
        if service.kind == "service" and rng.random() < 0.7:
            scheduled = timezone.localdate(created) + timedelta(days=rng.randrange(7, 35))
        order = Order.objects.create(
            practice=practice,
            patient=patient,
            kind=service.kind,
            code_system=service.system,
            code=service.code,
            description=service.description,
            quantity=service.quantity,
            units=service.units,
            estimated_cost=DEMO_COST.get(service.category),
            diagnosis_codes=list(service.diagnoses[: rng.randrange(1, len(service.diagnoses) + 1)]),
            ordering_provider=provider,
            location=provider.location,
            site_of_service=provider.location.place_of_service if provider.location else "11",
            priority=Order.Priority.EMERGENCY
            if target == Status.RETRO_AUTH
            else (Order.Priority.URGENT if urgent else Order.Priority.ROUTINE),
            requested_date=timezone.localdate(created) + timedelta(days=rng.randrange(3, 21)),
            scheduled_date=scheduled,
            source=Order.Source.EHR if rng.random() < 0.8 else Order.Source.MANUAL,
            created_at=created,
        )
        orders.append((order, target, age))
    return orders


def _age_for(target: str, rng: random.Random) -> int:
    """Days since the order arrived, plausible for where its case stands."""
    if target in (Status.NEW, Status.RETRO_AUTH):
        return rng.randrange(0, 3)
    if target in (Status.GATHERING, Status.NEEDS_CLINICIAN, Status.READY, Status.NOT_REQUIRED):
        return rng.randrange(0, 12)
    if target in (Status.SUBMITTED, Status.PENDED):
        return rng.randrange(2, 16)
    if target in (Status.CLOSED, Status.EXPIRED):
        return rng.randrange(60, 150)
    return rng.randrange(5, 60)


class _CaseSeeder:
    """Walks one order's case to its target status through the real services."""

    def __init__(self, *, practice, users, rng, now):
        self.practice, self.rng, self.now = practice, rng, now
        by_name = {u.username: u for u in users}
        self.coordinators = [by_name["coordinator"], by_name["coordinator2"]]
        self.manager = by_name["manager"]
        self.auth_counter = 0

    def seed(self, order: Order, target: str, age: int) -> PriorAuthCase:
        case = case_open_for_order(order=order, reconcile=False)  # the history below is walked by hand
        rng, coord = self.rng, self.rng.choice(self.coordinators)
        clinician = getattr(order.ordering_provider, "user", None)  # reverse one-to-one: None when unlinked
        if target not in (Status.NEW, Status.NOT_REQUIRED, Status.RETRO_AUTH) and rng.random() < 0.75:
            case_assign(case=case, user=coord, actor=self.manager)
        elif target in (Status.NEW, Status.RETRO_AUTH) and rng.random() < 0.3:
            case_assign(case=case, user=coord, actor=self.manager)

        path = _PATHS.get(target, [])
        if case.status == Status.GATHERING:
            self._gather(case, target, coord, clinician)
        for step in path:
            getattr(self, f"_to_{step}")(case, coord)
        if target == Status.CANCELLED:
            self._finish(case, coord)
            transition(case, Status.CANCELLED, actor=coord, reason="Order withdrawn by the ordering provider")
        self._backdate(case, age)
        return case

    def _finish(self, case, actor, *kinds) -> None:
        """Tasks a later step made moot are done, by whoever took that step."""
        open_tasks = case.tasks.open()
        if kinds:
            open_tasks = open_tasks.filter(kind__in=kinds)
        for task in open_tasks:
            task_mark_done(task=task, actor=actor)

    def _poll_at(self, channel, low_hours, high_hours):
        # An API channel is asked by the poll loop; fax, portal and X12 outcomes are recorded by people,
        # who get a follow-up task when nothing was recorded by then (no random draw: the seed stays as it was).
        if channel != Channel.PAS:
            return self.now + timedelta(hours=high_hours)
        return self.now + timedelta(hours=self.rng.randrange(low_hours, high_hours))

    def _decider(self, case, coord):
        # Portal and fax outcomes are typed in by a coordinator; API channels report themselves.
        return coord if case.channel in (Channel.PORTAL, Channel.FAX) else None

    # --- steps -----------------------------------------------------------------------------

    def _gather(self, case, target, coord, clinician):
        statuses = list(case.requirement_statuses.select_related("requirement"))
        complete = target not in (Status.GATHERING, Status.NEEDS_CLINICIAN, Status.CANCELLED)
        for rs in statuses:
            if complete or self.rng.random() < 0.4:
                rs.state = RequirementStatus.State.MET
                rs.evidence = [_evidence_for(rs.requirement, self.now, self.rng)]
                rs.save(update_fields=["state", "evidence", "updated_at"])
            elif rs.requirement.who_closes == WhoCloses.COORDINATOR:
                task_create(
                    case=case,
                    kind=Task.Kind.CLOSE_GAP,
                    title=f"Missing: {rs.requirement.description}",
                    role=Role.COORDINATOR,
                    due_at=self.now + timedelta(days=self.rng.randrange(1, 4)),
                    dedupe_key=f"gap:{rs.requirement_id}",
                )
        if target == Status.NEEDS_CLINICIAN:
            gaps = [rs for rs in statuses if rs.state == RequirementStatus.State.GAP] or statuses[:1]
            transition(case, Status.NEEDS_CLINICIAN, actor=coord, reason="Clinical input requested")
            task_create(
                case=case,
                kind=Task.Kind.CLINICIAN_INPUT,
                title=f"Clinical input: {gaps[0].requirement.description}" if gaps else "Clinical input needed",
                assignee=clinician,
                role="" if clinician else Role.CLINICIAN,
                due_at=self.now + timedelta(days=self.rng.randrange(1, 3)),
                actor=coord,
            )
        if complete:
            case.summary_text = (
                f"Request for {case.order.description} ({case.order.code_system} {case.order.code}). "
                f"Diagnoses: {', '.join(case.order.diagnosis_codes)}. Documentation on file meets the payer's "
                "listed criteria; see the evidence list."
            )
            case.summary_source = "template"
            fields = ["summary_text", "summary_source"]
            provider_user = getattr(case.order.ordering_provider, "user", None)
            if provider_user is not None or self.rng.random() < 0.9:
                case.summary_attested_by = provider_user
                case.summary_attested_at = self.now
                case.summary_attested_text = case.summary_text
                fields += ["summary_attested_by", "summary_attested_at", "summary_attested_text"]
            case.save(update_fields=fields)
            case_event_add(case=case, kind=CaseEvent.Kind.SYSTEM, message="Medical-necessity summary drafted")
            transition(case, Status.READY, actor=coord, reason="Packet complete")
            if target == Status.READY and self.practice.submission_requires_approval and self.rng.random() < 0.6:
                task_create(
                    case=case,
                    kind=Task.Kind.APPROVE_SUBMISSION,
                    title="Approve submission",
                    role=Role.MANAGER,
                    due_at=self.now + timedelta(days=1),
                    actor=coord,
                    dedupe_key="approve_submission",
                )

    def _to_submitted(self, case, coord):
        self._finish(case, coord)
        if self.practice.submission_requires_approval:
            case.submission_approved_by = self.manager
            case.submission_approved_at = self.now
            case.save(update_fields=["submission_approved_by", "submission_approved_at"])
            case_event_add(case=case, kind=CaseEvent.Kind.APPROVAL, actor=self.manager, message="Submission approved")
        channel = case.channel or (case.payer.default_channel if case.payer_id else "portal")
        transition(
            case,
            Status.SUBMITTED,
            actor=coord,
            reason=f"Submitted via {Channel(channel).label}" if channel in Channel.values else "Submitted",
            fields={
                "channel": channel,
                "payer_tracking_id": f"{case.payer.payer_id if case.payer_id else 'TRK'}-{case.pk:06d}",
                "next_poll_at": self._poll_at(channel, -2, 6),
            },
        )
        if channel in (Channel.PORTAL, Channel.FAX):
            task_create(
                case=case,
                kind=Task.Kind.RECORD_OUTCOME,
                title=f"Check the {Channel(channel).label.lower()} for the decision",
                role=Role.COORDINATOR,
                due_at=self.now + timedelta(days=2),
                # The open follow-up of a request sent by hand (integrations.submission.manual).
                dedupe_key="follow-up-demo",
            )

    def _to_pended(self, case, coord):
        category = case.rule.category if case.rule_id else Category.OTHER
        request = self.rng.choice(PEND_REQUESTS.get(category, PEND_REQUESTS[Category.OTHER]))
        self._finish(case, coord, Task.Kind.RECORD_OUTCOME)
        transition(
            case,
            Status.PENDED,
            actor=self._decider(case, coord),
            reason="Payer pended the request: additional information needed",
            fields={
                "denial_reason_code": "A4",
                "denial_reason_text": request,
                "next_poll_at": self._poll_at(case.channel, 1, 12),
            },
            payer_request=request,
        )
        clinician = getattr(case.order.ordering_provider, "user", None)
        task_create(
            case=case,
            kind=Task.Kind.ANSWER_INFO_REQUEST,
            title="Answer the payer's information request",
            detail=request,
            assignee=clinician,
            role="" if clinician else Role.CLINICIAN,
            due_at=self.now + timedelta(days=self.rng.randrange(1, 5)),
            dedupe_key="info_request",
        )

    def _decision_fields(self, case, *, partial: bool) -> dict:
        self.auth_counter += 1
        start = timezone.localdate(self.now) - timedelta(days=self.rng.randrange(0, 20))
        quantity = Decimal(str(case.order.quantity))
        return {
            "authorization_number": f"{case.payer.payer_id}A{260000 + self.auth_counter}",
            "auth_effective_start": start,
            "auth_effective_end": start + timedelta(days=90),
            "units_approved": (quantity / 2).quantize(Decimal("1")) if partial and quantity > 1 else quantity,
        }

    def _to_approved(self, case, coord):
        self._finish(case, coord, Task.Kind.RECORD_OUTCOME)
        transition(
            case,
            Status.APPROVED,
            actor=self._decider(case, coord),
            reason="Payer approved (certified in total)",
            fields=self._decision_fields(case, partial=False),
            review_action="A1",
        )

    def _to_partially_approved(self, case, coord):
        self._finish(case, coord, Task.Kind.RECORD_OUTCOME)
        transition(
            case,
            Status.PARTIALLY_APPROVED,
            actor=self._decider(case, coord),
            reason="Payer approved part of the request",
            fields=self._decision_fields(case, partial=True),
            review_action="A2",
        )

    def _to_denied(self, case, coord):
        code, text, _ = self.rng.choice(DENIALS)
        appeal = timezone.localdate(self.now) + timedelta(
            days=case.payer.appeal_window_days - self.rng.randrange(0, 20)
        )
        self._finish(case, coord, Task.Kind.RECORD_OUTCOME)
        transition(
            case,
            Status.DENIED,
            actor=self._decider(case, coord),
            reason=f"Payer denied: {text}",
            fields={"denial_reason_code": code, "denial_reason_text": text, "appeal_deadline": appeal},
            review_action="A3",
        )
        task_create(
            case=case,
            kind=Task.Kind.WORK_DENIAL,
            title="Work the denial",
            detail=f"{code}: {text}. Appeal by {date_words(appeal)}.",
            role=Role.COORDINATOR,
            due_at=self.now + timedelta(days=3),
            dedupe_key="work_denial",
        )

    def _to_appealed(self, case, coord):
        self._finish(case, coord, Task.Kind.WORK_DENIAL)
        transition(
            case,
            Status.APPEALED,
            actor=coord,
            reason="Appeal filed with the clinical notes",
            fields={"next_poll_at": self._poll_at(case.channel, 4, 48)},
        )
        case_add_note(case=case, actor=coord, text="Peer-to-peer requested; appeal letter faxed.")

    def _to_closed(self, case, coord):
        self._finish(case, coord)
        transition(case, Status.CLOSED, actor=coord, reason="Service delivered")

    def _to_expired(self, case, coord):
        self._finish(case, coord)
        PriorAuthCase.objects.filter(pk=case.pk).update(
            auth_effective_end=timezone.localdate(self.now) - timedelta(days=self.rng.randrange(1, 30))
        )
        transition(case, Status.EXPIRED, reason="Authorization lapsed before the service was scheduled")

    # --- clocks -----------------------------------------------------------------------------

    def _backdate(self, case, age_days: int) -> None:
        """Spread the case's events from the order's arrival to a little before now."""
        start = case.order.created_at
        events = list(case.events.order_by("id"))
        tasks = list(case.tasks.order_by("id"))
        span = self.now - start - timedelta(minutes=30)  # start is at least an hour ago
        times = sorted(start + span * self.rng.random() for _ in events[1:])
        times = [start] + times
        submitted_at = decided_at = closed_at = None
        last_status = start
        for event, at in zip(events, times, strict=True):
            event.created_at = at
            if event.kind == CaseEvent.Kind.STATUS:
                last_status = at
                if event.to_status == Status.SUBMITTED and submitted_at is None:
                    submitted_at = at
                if event.to_status in (Status.APPROVED, Status.PARTIALLY_APPROVED, Status.DENIED):
                    decided_at = at
                if event.to_status in (Status.CLOSED, Status.CANCELLED, Status.NOT_REQUIRED, Status.EXPIRED):
                    closed_at = at
        CaseEvent.objects.bulk_update(events, ["created_at"])
        for task in tasks:
            # A task's first timeline line is its creation; a "Done:" line its completion.
            moments = [t for t, e in zip(times, events, strict=True) if e.details.get("task_id") == task.pk]
            task.created_at = moments[0] if moments else start
            if task.done_at is not None:
                task.done_at = moments[-1] if len(moments) > 1 else task.created_at
            if task.due_at is not None:
                task.due_at = task.created_at + timedelta(days=self.rng.randrange(1, 4))
        Task.objects.bulk_update(tasks, ["created_at", "done_at", "due_at"])
        updates = {"created_at": start, "status_changed_at": last_status}
        if submitted_at:
            urgent = case.urgency == "expedited"
            updates["submitted_at"] = submitted_at
            updates["decision_due_at"] = submitted_at + case.payer.decision_window(expedited=urgent)
        if decided_at:
            updates["decided_at"] = decided_at
        if closed_at:
            updates["closed_at"] = closed_at
        if case.summary_attested_at:
            updates["summary_attested_at"] = last_status
        if case.submission_approved_at and submitted_at:
            updates["submission_approved_at"] = submitted_at - timedelta(minutes=self.rng.randrange(5, 240))
        PriorAuthCase.objects.filter(pk=case.pk).update(**updates)


# The steps after `gathering` (taken by `_gather`) for each target status.
_PATHS = {
    Status.SUBMITTED: ["submitted"],
    Status.PENDED: ["submitted", "pended"],
    Status.APPROVED: ["submitted", "approved"],
    Status.PARTIALLY_APPROVED: ["submitted", "partially_approved"],
    Status.DENIED: ["submitted", "denied"],
    Status.APPEALED: ["submitted", "denied", "appealed"],
    Status.CLOSED: ["submitted", "approved", "closed"],
    Status.EXPIRED: ["submitted", "approved", "expired"],
}


def _evidence_for(requirement: DocumentationRequirement, now: datetime, rng: random.Random) -> dict:
    """A plausible evidence line for a met requirement (synthetic)."""
    day = (now - timedelta(days=rng.randrange(2, min(requirement.lookback_days or 60, 60)))).date().isoformat()
    kind = requirement.kind
    if kind == RequirementKind.LAB:
        value = {"4548-4": f"{rng.uniform(7.1, 9.8):.1f} %", "33914-3": f"{rng.randrange(48, 95)} mL/min/1.73m2"}
        return {
            "resource": f"Observation/demo-{rng.randrange(10**6)}",
            "date": day,
            "value": value.get(requirement.loinc_code, "on file"),
        }
    resource = {
        RequirementKind.MEDICATION_TRIAL: "MedicationStatement",
        RequirementKind.THERAPY: "Procedure",
        RequirementKind.NOTE: "DocumentReference",
        RequirementKind.IMAGING: "DiagnosticReport",
        RequirementKind.DIAGNOSIS: "Condition",
    }.get(kind, "DocumentReference")
    return {"resource": f"{resource}/demo-{rng.randrange(10**6)}", "date": day, "value": requirement.description}


def demo_logins_text() -> str:
    lines = ["Demo logins (embedded setup only), password " + DEMO_PASSWORD + ":"]
    for username, *_names, role, _ in DEMO_USERS:
        lines.append(f"  {username:<13} {Role(role).label}")
    return "\n".join(lines)
