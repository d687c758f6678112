from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.models import CaseEvent, PriorAuthCase, Status
from cases.transitions import transition
from payers.models import RequiresPA
from tests import factories as f


@pytest.fixture
def admin_user(db):
    return f.UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.mark.django_db
def test_rule_changelist_warns_about_conflicting_rules(admin_client):
    # given two payer-wide rules for the same code and dates, and an unrelated rule
    payer = f.PayerFactory(name="Acme Health")
    a = f.PayerRuleFactory(payer=payer, code="70551")
    b = f.PayerRuleFactory(payer=payer, code="70551", requires_pa=RequiresPA.NO)
    other = f.PayerRuleFactory(payer=payer, code="70553")
    # when the rule list is opened
    response = admin_client.get(reverse("admin:payers_payerrule_changelist"))
    # then the warning names both rules, and the conflict filter shows only them
    text = response.content.decode()
    assert response.status_code == 200
    assert "Conflicting rules: 1 pair(s)" in text
    assert f"#{a.pk}</a> and <a" in text and f">#{b.pk}</a>" in text
    only = admin_client.get(reverse("admin:payers_payerrule_changelist") + "?conflict=yes")
    assert {r.pk for r in only.context["cl"].result_list} == {a.pk, b.pk}
    assert other.pk not in {r.pk for r in only.context["cl"].result_list}


@pytest.mark.django_db
def test_rule_changelist_without_conflicts_shows_no_warning(admin_client):
    # given a plan-specific and a payer-wide rule for one code (the plan one wins: no tie)
    plan = f.PlanFactory()
    f.PayerRuleFactory(payer=plan.payer, code="70551")
    f.PayerRuleFactory(payer=plan.payer, plan=plan, code="70551")
    # when the list is opened
    response = admin_client.get(reverse("admin:payers_payerrule_changelist"))
    # then no warning, and the "test an order" link is there
    assert "Conflicting rules:" not in response.content.decode()
    assert reverse("admin:payers_payerrule_test_order") in response.content.decode()


@pytest.mark.django_db
def test_rule_change_page_warns_when_the_rule_conflicts(admin_client):
    # given two overlapping ranges of equal width
    payer = f.PayerFactory()
    a = f.PayerRuleFactory(payer=payer, code="70450", code_end="70460")
    b = f.PayerRuleFactory(payer=payer, code="70455", code_end="70465")
    # when one rule's page is opened
    response = admin_client.get(reverse("admin:payers_payerrule_change", args=[a.pk]))
    # then it names the other
    text = response.content.decode()
    assert "This rule conflicts with" in text and f">#{b.pk}</a>" in text


def _rule_form(payer, **values) -> dict:
    """The admin add-rule form's POST data: a CPT rule with no plan, no conditions and no requirements."""
    data = {
        "payer": payer.pk,
        "plan": "",
        "requires_pa": "yes",
        "category": "advanced_imaging",
        "channel": "",
        "code_system": "CPT",
        "code": "",
        "code_end": "",
        "site_of_service": "",
        "diagnosis_prefixes": "",
        "effective_from": "2025-01-01",
        "effective_to": "",
        "criteria_reference": "",
        "notes": "",
        "requirements-TOTAL_FORMS": "0",
        "requirements-INITIAL_FORMS": "0",
    }
    return data | values


@pytest.mark.django_db
def test_rule_form_surfaces_model_validation(admin_client):
    # given a rule whose range ends before it starts
    payer = f.PayerFactory()
    data = _rule_form(payer, code="70559", code_end="70540")
    # when it is added in admin
    response = admin_client.post(reverse("admin:payers_payerrule_add"), data)
    # then the form is shown again with the error and nothing is saved
    assert response.status_code == 200
    assert "The range ends before it starts." in response.content.decode()
    assert payer.rules.count() == 0


@pytest.mark.django_db
def test_rule_form_checks_and_normalises_the_conditions(admin_client):
    payer = f.PayerFactory()
    data = _rule_form(payer, category="surgery", code="27447", site_of_service="1A", diagnosis_prefixes="m17.11, knee")
    # given a place of service and a diagnosis prefix that are not codes, when added in admin
    response = admin_client.post(reverse("admin:payers_payerrule_add"), data)
    # then both errors are shown and nothing is saved
    text = response.content.decode()
    assert "is not a CMS place-of-service code" in text and "not an ICD-10 code or prefix: KNEE" in text
    assert payer.rules.count() == 0
    # when corrected, in lower case with spaces
    response = admin_client.post(
        reverse("admin:payers_payerrule_add"), data | {"site_of_service": "22", "diagnosis_prefixes": "m17.11, m16 "}
    )
    # then the rule is stored with the prefixes normalised
    assert response.status_code == 302
    assert payer.rules.get().diagnosis_prefixes == "M17.11,M16"


@pytest.mark.django_db
def test_test_an_order_page_shows_the_decision_to_staff(admin_client):
    # given a payer-wide rule with a requirement
    payer = f.PayerFactory(name="Acme Health")
    rule = f.PayerRuleFactory(payer=payer, code="70551", channel="pas")
    f.RequirementFactory(rule=rule, description="Neurology note within 30 days")
    # when staff test an order for that code
    response = admin_client.post(
        reverse("admin:payers_payerrule_test_order"),
        {
            "payer": payer.pk,
            "plan": "",
            "code_system": "CPT",
            "code": "70551",
            "site": "11",
            "diagnoses": "G43.909",
            "date": "2026-03-02",
        },
    )
    # then the page shows the decision, the rule, the channel and the requirement
    assert response.status_code == 200
    decision = response.context["decision"]
    assert (decision.decision, decision.rule_id, decision.channel) == ("required", rule.pk, "pas")
    text = response.content.decode()
    assert 'data-decision="required"' in text and "Neurology note within 30 days" in text


@pytest.mark.django_db
def test_test_an_order_page_reports_a_conflict(admin_client):
    # given two tying rules
    payer = f.PayerFactory()
    a = f.PayerRuleFactory(payer=payer, code="70551")
    f.PayerRuleFactory(payer=payer, code="70551")
    # when tested
    response = admin_client.post(
        reverse("admin:payers_payerrule_test_order"),
        {"payer": payer.pk, "code_system": "CPT", "code": "70551", "date": "2026-03-02"},
    )
    # then the conflict is shown with links to the rules
    assert 'id="test-order-conflict"' in response.content.decode()
    assert reverse("admin:payers_payerrule_change", args=[a.pk]) in response.content.decode()


@pytest.mark.django_db
def test_test_an_order_page_is_refused_to_non_staff(client, coordinator):
    # given a coordinator (not staff) is signed in
    client.force_login(coordinator)
    # when the page is opened
    response = client.get(reverse("admin:payers_payerrule_test_order"))
    # then admin sends them to its login
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


@pytest.mark.django_db
def test_test_an_order_page_needs_rule_view_permission(client):
    # given a staff user without permission on payer rules
    user = f.UserFactory(is_staff=True)
    client.force_login(user)
    # when the page is opened
    response = client.get(reverse("admin:payers_payerrule_test_order"))
    # then it is forbidden; with the permission it opens
    assert response.status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_payerrule"))
    assert client.get(reverse("admin:payers_payerrule_test_order")).status_code == 200


@pytest.mark.django_db
def test_case_status_is_read_only_in_admin(admin_client, admin_user, case):
    # given a case opened in admin
    model_admin = admin.site._registry[PriorAuthCase]
    request = RequestFactory().get("/")
    request.user = admin_user
    # then status is not an editable field of the form, but shown read-only
    assert "status" in model_admin.get_readonly_fields(request, case)
    assert "status" not in model_admin.get_form(request, case).base_fields
    response = admin_client.get(reverse("admin:cases_priorauthcase_change", args=[case.pk]))
    assert response.status_code == 200
    assert 'name="status"' not in response.content.decode()


@pytest.mark.django_db
def test_saving_a_case_in_admin_keeps_a_status_moved_meanwhile(admin_user, case):
    # given an admin opened the case while it was new, then a transition moved it
    stale = PriorAuthCase.objects.get(pk=case.pk)
    transition(case, Status.GATHERING, actor=None, reason="PA required")
    stale.payer_tracking_id = "TRK-1"
    request = RequestFactory().post("/")
    request.user = admin_user
    # when the admin saves their edit
    admin.site._registry[PriorAuthCase].save_model(
        request, stale, SimpleNamespace(changed_data=["payer_tracking_id"]), change=True
    )
    # then the edit is saved, the status is not written back, and the timeline records the edit
    case.refresh_from_db()
    assert (case.status, case.payer_tracking_id) == (Status.GATHERING, "TRK-1")
    assert case.events.filter(kind=CaseEvent.Kind.SYSTEM, actor=admin_user).exists()


@pytest.mark.django_db
def test_case_events_cannot_be_added_changed_or_deleted_in_admin(admin_client, case):
    # given a timeline event
    event = CaseEvent.objects.create(case=case, kind=CaseEvent.Kind.NOTE, message="Called payer")
    # when an admin tries to add, edit or delete events
    add = admin_client.get(reverse("admin:cases_caseevent_add"))
    delete = admin_client.post(reverse("admin:cases_caseevent_delete", args=[event.pk]), {"post": "yes"})
    change = admin_client.post(
        reverse("admin:cases_caseevent_change", args=[event.pk]), {"kind": "note", "message": "rewritten"}
    )
    # then add and delete are forbidden, the change page is view-only, and the event is untouched
    assert add.status_code == 403
    assert delete.status_code == 403
    assert change.status_code == 403
    event.refresh_from_db()
    assert event.message == "Called payer"
    assert admin_client.get(reverse("admin:cases_caseevent_change", args=[event.pk])).status_code == 200


def _make_rows(n: int, practice, payer) -> None:
    # One assignee for all rows: a per-row query shows even when rows share a related object.
    assignee = f.UserFactory(practice=practice)
    for i in range(n):
        order = f.OrderFactory(practice=practice)
        case = f.CaseFactory(order=order, payer=payer, assignee=assignee)
        CaseEvent.objects.create(case=case, kind=CaseEvent.Kind.NOTE, actor=case.assignee, message="n")
        f.CoverageFactory(patient=order.patient, payer=payer, plan=f.PlanFactory(payer=payer))
        rule = f.PayerRuleFactory(payer=payer, plan=f.PlanFactory(payer=payer), code=f"7055{i % 10}")
        f.RequirementFactory(rule=rule)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url_name",
    [
        "admin:cases_priorauthcase_changelist",
        "admin:cases_order_changelist",
        "admin:cases_caseevent_changelist",
        "admin:cases_coverage_changelist",
        "admin:cases_patient_changelist",
        "admin:cases_provider_changelist",
        "admin:cases_user_changelist",
        "admin:payers_payer_changelist",
        "admin:payers_plan_changelist",
        "admin:payers_payerrule_changelist",
        "admin:payers_documentationrequirement_changelist",
    ],
)
def test_admin_list_pages_do_not_query_per_row(admin_client, practice, url_name):
    # given a few rows of everything
    payer = f.PayerFactory(name="Acme Health")
    _make_rows(2, practice, payer)
    url = reverse(url_name)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(url).status_code == 200
    # when there are more than twice as many rows
    _make_rows(3, practice, payer)
    with CaptureQueriesContext(connection) as many:
        assert admin_client.get(url).status_code == 200
    # then the page runs the same number of queries (session, user, count, rows, filters)
    assert len(many) == len(few), [q["sql"][:120] for q in many.captured_queries]


def test_record_admins_are_the_one_read_only_admin():
    # given every admin of ours that refuses both adding and changing rows (a record, not a setting)
    from types import SimpleNamespace

    from django.contrib import admin as django_admin

    from priorauth.admin import ReadOnlyMixin

    superuser = SimpleNamespace(request=None, user=SimpleNamespace(has_perm=lambda *a, **k: True))
    records = [
        model_admin
        for model_admin in django_admin.site._registry.values()
        if type(model_admin).__module__.startswith(("cases.", "payers.", "integrations."))
        and not model_admin.has_add_permission(superuser)
        and not model_admin.has_change_permission(superuser)
    ]
    # then each is cases.admin.ReadOnlyAdmin, which also refuses deleting
    odd = [type(a).__name__ for a in records if not isinstance(a, ReadOnlyMixin)]
    assert odd == []
    assert all(not a.has_delete_permission(superuser) for a in records if isinstance(a, ReadOnlyMixin))
    assert {"CaseEventAdmin", "SubmissionAdmin", "ExchangeAdmin", "PhiAccessLogAdmin", "AccessLogAdmin"} <= {
        type(a).__name__ for a in records
    }
