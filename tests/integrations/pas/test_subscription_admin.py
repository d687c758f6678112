"""Admin: the subscriptions list (state, error) and its actions, re-create and switch off."""

import pytest
from django.urls import reverse
from django_q.models import OrmQ

from integrations.pas.models import PayerSubscription, SandboxSubscription
from tests import factories as f

S = PayerSubscription.State


@pytest.fixture
def admin_client(client, db):
    client.force_login(f.UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def rows(practice):
    payer = f.PayerFactory(name="Harbor", default_channel="pas")
    other = f.PayerFactory(name="Bay", default_channel="pas")
    return [
        PayerSubscription.objects.create(
            payer=payer, practice=practice, state=S.ERROR, last_error="Subscription: payer answered HTTP 500"
        ),
        PayerSubscription.objects.create(payer=other, practice=practice, state=S.ACTIVE, subscription_id="s-2"),
    ]


def test_the_list_shows_state_and_error_and_cannot_add(admin_client, rows):
    url = reverse("admin:pas_payersubscription_changelist")
    body = admin_client.get(url).content.decode()
    assert "Subscription: payer answered HTTP 500" in body and "s-2" in body
    assert admin_client.get(reverse("admin:pas_payersubscription_add")).status_code == 403


def test_recreate_enqueues_a_forced_subscription_per_row(admin_client, rows, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        r = admin_client.post(
            reverse("admin:pas_payersubscription_changelist"),
            {"action": "recreate", "_selected_action": [row.pk for row in rows]},
            follow=True,
        )
    assert "Re-creating 2 subscription(s) in the background." in r.content.decode()
    queued = sorted((q.func(), tuple(q.task["args"])) for q in OrmQ.objects.all())
    assert queued == sorted(
        ("integrations.pas.tasks.ensure_subscription", (row.payer_id, row.practice_id, True)) for row in rows
    )
    # the web request itself called no payer
    assert [row.state for row in PayerSubscription.objects.order_by("pk")] == [S.ERROR, S.ACTIVE]


def test_switch_off(admin_client, rows):
    admin_client.post(
        reverse("admin:pas_payersubscription_changelist"),
        {"action": "switch_off", "_selected_action": [rows[0].pk]},
    )
    rows[0].refresh_from_db()
    assert rows[0].state == S.OFF
    from auditlog.models import LogEntry

    entry = LogEntry.objects.get_for_object(rows[0]).filter(action=LogEntry.Action.UPDATE).get()
    assert entry.actor.username == "root" and "state" in entry.changes_dict


def test_sandbox_subscriptions_hide_the_subscribers_secret(admin_client, sandbox_payer):
    sub = SandboxSubscription.objects.create(
        sandbox_payer=sandbox_payer,
        kind="topic",
        criteria="x",
        endpoint="http://127.0.0.1:9/",
        headers=["Authorization: Bearer very-secret"],
        resource={"channel": {"header": ["Authorization: Bearer very-secret"]}},
        base_url="http://testserver/sandbox/payer/harbor/fhir",
    )
    body = admin_client.get(reverse("admin:pas_sandboxsubscription_change", args=[sub.pk])).content.decode()
    assert "very-secret" not in body
