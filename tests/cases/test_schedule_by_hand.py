"""The service date staff enter by hand (order form, case page) where the EHR has none, marked as such."""

from django.urls import reverse

from cases.models import CaseEvent, Order, PriorAuthCase, Status
from tests import factories as f


def _post_data(provider, payer, **over):
    return {
        "first_name": "Fax",
        "last_name": "Order",
        "birth_date": "1960-04-04",
        "mrn": "FAX-2",
        "payer": payer.pk,
        "member_id": "M1",
        "ordering_provider": provider.pk,
        "kind": "service",
        "code_system": "CPT",
        "code": "70551",
        "description": "MRI brain",
        "quantity": "1",
        "priority": "routine",
        "requested_date": "2026-03-01",
        **over,
    }


def test_the_order_form_takes_a_scheduled_date_marked_as_entered_by_hand(client, coordinator, owner_provider, payer):
    # given a coordinator entering a faxed order whose appointment is already booked
    client.force_login(coordinator)
    # when they save it with the date
    response = client.post(reverse("cases:order_new"), _post_data(owner_provider, payer, scheduled_date="2026-03-09"))
    # then the order carries the date, marked as entered by hand, and the case page says so
    assert response.status_code == 302
    order = Order.objects.get()
    assert (str(order.scheduled_date), order.scheduled_source) == ("2026-03-09", "manual")
    page = client.get(reverse("cases:detail", args=[order.case.pk])).content.decode()
    assert "Mar 9, 2026" in page and "entered by hand" in page


def test_staff_set_and_correct_the_date_on_the_case_page(client, front_desk, case):
    # given an open case without a date
    client.force_login(front_desk)
    url = reverse("cases:schedule", args=[case.pk])
    # when the front desk sets it, then corrects it
    client.post(url, {"scheduled_date": "2026-04-01"})
    client.post(url, {"scheduled_date": "2026-04-03"})
    # then the order has the corrected date, entered by hand, and both are on the timeline
    case.order.refresh_from_db()
    assert (str(case.order.scheduled_date), case.order.scheduled_source) == ("2026-04-03", "manual")
    messages = list(
        CaseEvent.objects.filter(case=case, message__startswith="Service date")
        .order_by("pk")
        .values_list("message", flat=True)
    )
    assert messages == [
        "Service date entered by hand: 04/01/2026",
        "Service date entered by hand: 04/03/2026 (was 04/01/2026)",
    ]


def test_a_date_from_the_ehr_is_not_overwritten_by_hand(client, coordinator, practice, owner_provider, payer):
    # given a case whose appointment the EHR schedules
    order = f.OrderFactory(practice=practice, ordering_provider=owner_provider, scheduled_source="ehr")
    Order.objects.filter(pk=order.pk).update(scheduled_date="2026-05-05", schedule_ref="Appointment/a1")
    case = f.CaseFactory(order=order, payer=payer, status=Status.GATHERING)
    client.force_login(coordinator)
    # when a coordinator posts another date
    response = client.post(reverse("cases:schedule", args=[case.pk]), {"scheduled_date": "2026-05-01"}, follow=True)
    # then it is refused with the reason, and the EHR's date stays
    assert "The EHR schedules this service" in response.content.decode()
    order.refresh_from_db()
    assert str(order.scheduled_date) == "2026-05-05"
    assert 'name="scheduled_date"' not in client.get(reverse("cases:detail", args=[case.pk])).content.decode()


def test_a_bad_date_gets_a_message_not_an_error(client, coordinator, case):
    client.force_login(coordinator)
    response = client.post(reverse("cases:schedule", args=[case.pk]), {"scheduled_date": "31/31/2026"}, follow=True)
    assert response.status_code == 200 and "Service date: Enter a valid date." in response.content.decode()
    assert PriorAuthCase.objects.get(pk=case.pk).order.scheduled_date is None


def test_setting_the_date_of_an_approved_service_closes_the_scheduling_task(client, front_desk, case):
    # given an approved case with the front desk's "Schedule the service" task (found walking the demo: the task
    # stayed open after the front desk set the date)
    case.status = Status.APPROVED
    case.save(update_fields=["status"])
    task = f.TaskFactory(
        case=case, kind="reschedule", role="front_desk", title="Schedule the service: authorization A-1"
    )
    other = f.TaskFactory(case=case, role="coordinator", title="Call the patient")
    client.force_login(front_desk)
    # when the front desk sets the service date
    client.post(reverse("cases:schedule", args=[case.pk]), {"scheduled_date": "2026-12-20"})
    # then the scheduling task is done and the coordinator's task is not
    task.refresh_from_db()
    other.refresh_from_db()
    assert task.done_at is not None and task.done_by == front_desk
    assert other.done_at is None
