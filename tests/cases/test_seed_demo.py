"""`manage.py seed_demo`: the demo practice the README's first command builds."""

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db.models import Count
from django.test import RequestFactory, override_settings

from cases.models import CaseEvent, Order, Patient, PriorAuthCase, Provider, Role, Status, Task, User
from cases.transitions import OPEN_STATUSES
from payers.models import Category, Payer, PayerRule

pytestmark = pytest.mark.django_db


def test_seed_demo_builds_the_practice_once(capsys):
    """One seed, checked section by section: seeding takes about a minute on PostgreSQL."""
    # given an empty database, when the seed runs
    call_command("seed_demo", "--base-url", "http://127.0.0.1:9")  # nothing listens: the live packet job fails soft
    seeded = capsys.readouterr().out
    _assert_promised_shape()
    _assert_statuses_through_the_state_machine()
    _assert_timelines_in_the_past()
    _assert_pend_requests_fit_the_service()
    _assert_history_sends_nothing()
    _assert_logins(seeded)
    _assert_second_run_changes_nothing(capsys)


def _assert_pend_requests_fit_the_service():
    # a pended case's information request asks for something of its own service line (a pended MRI is not
    # asked for a sleep study)
    from cases.demo import PEND_REQUESTS

    pended = PriorAuthCase.objects.filter(status=Status.PENDED, rule__isnull=False).select_related("rule")
    assert pended.exists()
    for case in pended:
        assert case.denial_reason_text in PEND_REQUESTS[case.rule.category], (case.pk, case.rule.category)


def _assert_promised_shape():
    # the practice is the size the foundation issue asks for
    assert Provider.objects.count() == 10
    assert set(Provider.objects.values_list("specialty", flat=True)) >= {
        "Primary care",
        "Cardiology",
        "Oncology",
        "Orthopedics",
        "Gastroenterology",
    }
    payers = Payer.objects.all()
    assert payers.count() == 6
    assert {p.cms_impacted for p in payers} == {True, False}
    categories = set(PayerRule.objects.values_list("category", flat=True))
    assert categories >= {
        Category.ADVANCED_IMAGING,
        Category.INFUSION,
        Category.SPECIALTY_PHARMACY,
        Category.DME,
        Category.SURGERY,
        Category.SLEEP,
    }
    assert Patient.objects.count() >= 300
    assert not Patient.objects.filter(coverages__isnull=True).exists()
    assert Order.objects.count() >= 600
    assert PriorAuthCase.objects.count() == Order.objects.count()


def _assert_statuses_through_the_state_machine():
    counts = dict(PriorAuthCase.objects.values_list("status").annotate(n=Count("id")).order_by())
    assert set(counts) == set(Status.values)
    # every case that left `new` got there by transition(), which writes a status event per move
    moved = PriorAuthCase.objects.exclude(status=Status.NEW)
    without_status_event = moved.exclude(events__kind=CaseEvent.Kind.STATUS)
    assert not without_status_event.exists()
    for case in PriorAuthCase.objects.filter(status=Status.APPROVED)[:20]:
        last = case.events.filter(kind=CaseEvent.Kind.STATUS).first()  # newest first
        assert last.to_status == Status.APPROVED
        assert case.authorization_number and case.auth_effective_start and case.units_approved
        assert case.created_at <= case.submitted_at <= case.decided_at
        assert case.decision_due_at > case.submitted_at


def _assert_timelines_in_the_past():
    from django.utils import timezone

    assert not CaseEvent.objects.filter(created_at__gt=timezone.now()).exists()
    assert not Task.objects.open().exclude(case__status__in=list(OPEN_STATUSES)).exists()
    assert (
        Task.objects.open().filter(kind=Task.Kind.WORK_DENIAL).count()
        == PriorAuthCase.objects.filter(status=Status.DENIED).count()
    )
    emergency = PriorAuthCase.objects.filter(order__priority=Order.Priority.EMERGENCY)
    assert emergency.exists()
    assert set(emergency.values_list("status", flat=True)) == {Status.RETRO_AUTH}


def _assert_history_sends_nothing():
    # the seeded decisions are the past: no patient texts or EHR write-backs for them
    from integrations.ehr_fhir.models import WriteBack
    from integrations.sms_twilio.models import OutboundMessage

    assert OutboundMessage.objects.count() == 0
    assert WriteBack.objects.count() == 0


def _assert_logins(seeded):
    for username, role in [
        ("coordinator", Role.COORDINATOR),
        ("manager", Role.MANAGER),
        ("clinician", Role.CLINICIAN),
        ("frontdesk", Role.FRONT_DESK),
        ("admin", Role.ADMIN),
    ]:
        # with a request, as the sign-in page does (django-axes counts attempts per request)
        user = authenticate(RequestFactory().post("/login/"), username=username, password="demo-pass-2026")
        assert user is not None, username
        assert user.has_role(role)
        assert username in seeded
    clinician = User.objects.get(username="clinician")
    assert PriorAuthCase.objects.visible_to(clinician).exists()
    assert PriorAuthCase.objects.visible_to(clinician).count() < PriorAuthCase.objects.count()


def _assert_second_run_changes_nothing(capsys):
    before = (PriorAuthCase.objects.count(), CaseEvent.objects.count(), Patient.objects.count(), User.objects.count())
    call_command("seed_demo")
    after = (PriorAuthCase.objects.count(), CaseEvent.objects.count(), Patient.objects.count(), User.objects.count())
    assert after == before
    assert "exists already" in capsys.readouterr().out


@override_settings(PRODUCTION=True)
def test_refuses_on_a_production_installation():
    with pytest.raises(CommandError, match="embedded demo"):
        call_command("seed_demo")
    assert not User.objects.filter(username="coordinator").exists()
