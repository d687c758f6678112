"""factory_boy factories. Synthetic data only: names from Faker, no real PHI."""

import datetime as dt

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from cases import models as cm
from payers import models as pm


class PracticeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = cm.Practice

    name = factory.Sequence(lambda n: f"Practice {n}")
    time_zone = "America/New_York"
    phone = "+15555550100"


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = cm.Location

    practice = factory.SubFactory(PracticeFactory)
    name = factory.Sequence(lambda n: f"Clinic {n}")


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = cm.Provider

    practice = factory.SubFactory(PracticeFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    credentials = "MD"
    npi = factory.Sequence(lambda n: f"{1000000000 + n}")
    specialty = "Internal medicine"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = cm.User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    practice = factory.SubFactory(PracticeFactory)
    password = factory.django.Password("test-pass-123")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        for role in extracted or ():
            group, _ = Group.objects.get_or_create(name=role)
            self.groups.add(group)


class PayerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = pm.Payer
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Payer {n}")
    cms_impacted = False
    default_channel = pm.Channel.PORTAL


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = pm.Plan

    payer = factory.SubFactory(PayerFactory)
    name = factory.Sequence(lambda n: f"Plan {n}")


class PayerRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = pm.PayerRule

    payer = factory.SubFactory(PayerFactory)
    plan = None
    code_system = pm.CodeSystem.CPT
    code = "70551"
    code_end = ""
    requires_pa = pm.RequiresPA.YES
    category = pm.Category.ADVANCED_IMAGING
    effective_from = dt.date(2020, 1, 1)


class RequirementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = pm.DocumentationRequirement

    rule = factory.SubFactory(PayerRuleFactory)
    kind = pm.RequirementKind.NOTE
    description = "Office note within 30 days"
    lookback_days = 30


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = cm.Patient

    practice = factory.SubFactory(PracticeFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    birth_date = dt.date(1970, 5, 17)
    mrn = factory.Sequence(lambda n: f"MRN{100000 + n}")


class CoverageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = cm.Coverage

    patient = factory.SubFactory(PatientFactory)
    payer = factory.SubFactory(PayerFactory)
    plan = None
    member_id = factory.Sequence(lambda n: f"M{900000 + n}")
    start = dt.date(2020, 1, 1)


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = cm.Order

    practice = factory.SubFactory(PracticeFactory)
    patient = factory.SubFactory(PatientFactory, practice=factory.SelfAttribute("..practice"))
    ordering_provider = factory.SubFactory(ProviderFactory, practice=factory.SelfAttribute("..practice"))
    code_system = "CPT"
    code = "70551"
    description = "MRI brain without contrast"
    diagnosis_codes = factory.LazyFunction(lambda: ["G43.909"])
    priority = cm.Order.Priority.ROUTINE
    requested_date = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=14))


class CaseFactory(factory.django.DjangoModelFactory):
    """A case placed directly in a status (fixtures only; code moves status via transition)."""

    class Meta:
        model = cm.PriorAuthCase

    order = factory.SubFactory(OrderFactory)
    practice = factory.SelfAttribute("order.practice")
    patient = factory.SelfAttribute("order.patient")
    payer = factory.SubFactory(PayerFactory)
    status = cm.Status.NEW


class RequirementStatusFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = cm.RequirementStatus

    case = factory.SubFactory(CaseFactory)
    requirement = factory.SubFactory(RequirementFactory)
    state = cm.RequirementStatus.State.GAP


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = cm.Task

    case = factory.SubFactory(CaseFactory)
    kind = cm.Task.Kind.CLOSE_GAP
    title = factory.Sequence(lambda n: f"Task {n}")
    role = cm.Role.COORDINATOR


class CaseEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = cm.CaseEvent

    case = factory.SubFactory(CaseFactory)
    kind = cm.CaseEvent.Kind.NOTE
    message = factory.Sequence(lambda n: f"Note {n}")


# Smallest valid-looking heads of the three accepted upload types.
PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG_BYTES = b"\xff\xd8\xff\xe0" + b"\x00" * 32


def gate_met(case, clinician=None, text: str = "Meets the payer's documented criteria."):
    """Give a case what the submission gate (cases/readiness.py) asks beyond its status: a summary
    attested by its ordering clinician (the provider's user, made here if the provider has none)."""
    provider = case.order.ordering_provider
    user = clinician or getattr(provider, "user", None)
    if user is None:
        user = UserFactory(practice=case.practice, roles=[cm.Role.CLINICIAN], provider=provider)
    case.summary_text = case.summary_text or text
    case.summary_source = case.summary_source or "staff"
    case.summary_attested_by = user
    case.summary_attested_at = timezone.now()
    case.summary_attested_text = case.summary_text
    case.save(
        update_fields=[
            "summary_text",
            "summary_source",
            "summary_attested_by",
            "summary_attested_at",
            "summary_attested_text",
        ]
    )
    return case
