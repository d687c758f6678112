"""Every read of patient data leaves one access-log row; sign-ins too; rows never change (issue 18 item 4)."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from cases.audit.models import AccessLog, AccessLogImmutable
from cases.audit.services import access_log_record
from cases.documents import document_upload
from cases.models import Status
from tests import factories as f


def rows(**filters):
    return list(AccessLog.objects.filter(**filters).order_by("pk"))


def test_one_row_per_case_page_view_with_ids_and_source(client, coordinator, case):
    client.force_login(coordinator)
    AccessLog.objects.all()  # nothing yet
    client.get(reverse("cases:detail", args=[case.pk]), REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="Firefox")
    [row] = rows(what="case page")
    assert row.user_id == coordinator.pk and row.username == coordinator.username
    assert row.action == "view"
    assert row.case_ids == [case.pk] and row.patient_ids == [case.patient_id]
    assert row.ip == "203.0.113.9" and row.user_agent == "Firefox"
    assert row.practice_id == coordinator.practice_id


def test_the_queue_records_the_ids_it_showed_and_a_search_not_its_words(client, manager, case):
    other = f.CaseFactory(order=f.OrderFactory(practice=case.practice))
    client.force_login(manager)
    client.get(reverse("cases:queue") + "?view=all")
    [listed] = rows(what="queue")
    assert set(listed.case_ids) == {case.pk, other.pk}
    assert set(listed.patient_ids) == {case.patient_id, other.patient_id}
    client.post(reverse("cases:queue"), {"view": "all", "q": case.patient.last_name}, HTTP_HX_REQUEST="true")
    [searched] = rows(action="search")
    assert searched.case_ids == [case.pk]
    stored = str(searched.detail) + searched.what
    assert case.patient.last_name not in stored


def test_tasks_documents_packet_and_metrics_export_are_recorded(client, manager, case, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    f.TaskFactory(case=case, role="manager", assignee=manager)
    doc = document_upload(
        case=case, actor=None, file=SimpleUploadedFile("x.pdf", f.PDF_BYTES, "application/pdf"), title="x"
    )
    client.force_login(manager)
    client.get(reverse("cases:tasks"))
    client.get(reverse("cases:document", args=[case.pk, doc.pk]))
    client.get("/dashboard/?export=csv")
    assert rows(what="tasks")[0].case_ids == [case.pk]
    [download] = rows(what="document")
    assert download.action == "download" and download.detail == {"rows": 1, "document_id": doc.pk}
    assert rows(what="metrics CSV")[0].action == "export"


def test_admin_patient_and_case_pages_are_recorded(client, case):
    admin = f.UserFactory(practice=case.practice, username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    assert client.get(reverse("admin:cases_patient_changelist")).status_code == 200
    assert client.get(reverse("admin:cases_priorauthcase_change", args=[case.pk])).status_code == 200
    [listed] = rows(what="admin list: patients")
    assert case.patient_id in listed.patient_ids
    [page] = rows(what__startswith="admin page")
    assert page.case_ids == [case.pk] and page.patient_ids == [case.patient_id]


def test_sign_in_sign_out_and_a_failed_sign_in_are_recorded(client, coordinator):
    coordinator.set_password("right-password-123")
    coordinator.save()
    client.post("/login/", {"login": "coord", "password": "wrong"}, REMOTE_ADDR="198.51.100.7")
    client.post("/login/", {"login": "coord", "password": "right-password-123"})
    client.post("/logout/")
    actions = [(r.action, r.username) for r in rows()]
    assert actions == [("login_failed", "coord"), ("login", "coord"), ("logout", "coord")]
    failed = rows(action="login_failed")[0]
    assert failed.user_id is None and failed.ip == "198.51.100.7"
    assert "wrong" not in str(failed.detail)


def test_rows_cannot_be_changed_or_deleted_by_the_app(coordinator):
    row = access_log_record(user=coordinator, action="view", what="case page", case_ids=[1])
    row.what = "nothing to see"
    with pytest.raises(AccessLogImmutable):
        row.save()
    with pytest.raises(AccessLogImmutable):
        row.delete()
    with pytest.raises(AccessLogImmutable):
        AccessLog.objects.filter(pk=row.pk).update(what="x")
    with pytest.raises(AccessLogImmutable):
        AccessLog.objects.filter(pk=row.pk).delete()
    assert AccessLog.objects.get(pk=row.pk).what == "case page"


def test_the_database_refuses_a_raw_update_on_postgresql(postgres_only, coordinator):
    row = access_log_record(user=coordinator, action="view", what="case page")
    with pytest.raises(DatabaseError, match="cannot be changed"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE audit_accesslog SET what = 'x' WHERE id = %s", [row.pk])
    with pytest.raises(DatabaseError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM audit_accesslog WHERE id = %s", [row.pk])
    assert AccessLog.objects.filter(pk=row.pk).exists()


def test_the_admin_shows_rows_read_only(client, coordinator):
    admin = f.UserFactory(username="root", is_staff=True, is_superuser=True)
    row = access_log_record(user=coordinator, action="view", what="case page")
    client.force_login(admin)
    page = client.get(reverse("admin:audit_accesslog_change", args=[row.pk])).content.decode()
    assert "case page" in page and 'name="_save"' not in page
    assert client.post(reverse("admin:audit_accesslog_delete", args=[row.pk]), {"post": "yes"}).status_code == 403
    assert AccessLog.objects.filter(pk=row.pk).exists()


def test_managers_search_by_patient_mrn_and_user_and_export_csv(client, manager, coordinator, case):
    other_case = f.CaseFactory(order=f.OrderFactory(practice=case.practice))
    access_log_record(
        user=coordinator, action="view", what="case page", case_ids=[case.pk], patient_ids=[case.patient_id]
    )
    access_log_record(
        user=manager, action="view", what="case page", case_ids=[other_case.pk], patient_ids=[other_case.patient_id]
    )
    client.force_login(manager)
    # by patient: the MRN is posted, the page then filters by the patient's id (no MRN in any URL)
    found = client.post(reverse("audit:log"), {"mrn": case.patient.mrn}, follow=True)
    assert case.patient.mrn not in found.redirect_chain[0][0]
    body = found.content.decode()
    assert f"#{case.pk}<" in body and f"#{other_case.pk}<" not in body
    # by user
    body = client.get(reverse("audit:log") + "?user=mgr").content.decode()
    assert f"#{other_case.pk}<" in body and f"#{case.pk}<" not in body
    # export: the filtered rows as CSV, and the export itself is recorded
    response = client.get(reverse("audit:log") + f"?patient={case.patient_id}&export=csv")
    assert response["Content-Type"].startswith("text/csv") and "no-store" in response["Cache-Control"]
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert lines[0][0] == "time" and len(lines) == 2 and lines[1][1] == "coord" and lines[1][5] == str(case.pk)
    assert rows(what="access log CSV")[0].action == "export"


def test_the_access_log_page_reads_a_fixed_number_of_rows(client, manager, case, django_assert_max_num_queries):
    client.force_login(manager)
    for _ in range(150):
        access_log_record(user=manager, action="view", what="case page", case_ids=[case.pk])
    # session, user, groups, practice (header), heartbeat (manager banner), count, page rows, session save (3)
    with django_assert_max_num_queries(10):
        assert client.get(reverse("audit:log")).status_code == 200


def test_a_bad_filter_is_a_400_with_the_reason(client, manager):
    client.force_login(manager)
    response = client.get(reverse("audit:log") + "?date_from=0001-01-01")
    assert response.status_code == 400 and "between" in response.content.decode()


def test_a_closed_case_page_is_recorded_too(client, manager, case):
    case.status = Status.CANCELLED
    case.save()
    client.force_login(manager)
    client.get(reverse("cases:detail", args=[case.pk]))
    assert rows(what="case page")[0].case_ids == [case.pk]
