from django.urls import path

from cases import order_views, views

app_name = "cases"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("cases/assign/", views.bulk_assign, name="bulk_assign"),
    path("cases/approve/", views.bulk_approve, name="bulk_approve"),
    path("authorizations/", views.authorizations, name="authorizations"),
    path("cases/<int:pk>/units-used/", views.case_units_used, name="units_used"),
    path("cases/<int:pk>/", views.case_detail, name="detail"),
    path("cases/<int:pk>/assign/", views.case_assign, name="assign"),
    path("cases/<int:pk>/pick-up/", views.case_pick_up, name="pick_up"),
    path("cases/<int:pk>/note/", views.case_note, name="note"),
    path("cases/<int:pk>/upload/", views.case_upload, name="upload"),
    path("cases/<int:pk>/resolve-gap/", views.case_resolve_gap, name="resolve_gap"),
    path("cases/<int:pk>/request-input/", views.case_request_input, name="request_input"),
    path("cases/<int:pk>/live/", views.case_live, name="live"),
    path("cases/<int:pk>/attest/", views.case_attest, name="attest"),
    path("cases/<int:pk>/summary/", views.case_update_summary, name="update_summary"),
    path("cases/<int:pk>/approve/", views.case_approve, name="approve"),
    path("cases/<int:pk>/submit/", views.case_submit, name="submit"),
    path("cases/<int:pk>/send-update/", views.case_send_update, name="send_update"),
    path("cases/<int:pk>/outcome/", views.case_outcome, name="outcome"),
    path("cases/<int:pk>/escalate/", views.case_escalate, name="escalate"),
    path("cases/<int:pk>/schedule/", views.case_schedule, name="schedule"),
    path("cases/<int:pk>/cancel/", views.case_cancel, name="cancel"),
    path("cases/<int:pk>/close/", views.case_close, name="close"),
    path("cases/<int:pk>/decide-pa/", views.case_decide_pa, name="decide_pa"),
    path("cases/<int:pk>/appeal/", views.case_appeal, name="appeal"),
    path("cases/<int:pk>/appeal/letter/", views.case_appeal_letter, name="appeal_letter"),
    path("cases/<int:pk>/documents/<int:doc_pk>/", views.document_download, name="document"),
    path("cases/<int:pk>/packet.pdf", views.case_packet, name="packet"),
    path("orders/new/", order_views.order_new, name="order_new"),
    path("tasks/", views.task_inbox, name="tasks"),
    path("tasks/<int:task_pk>/complete/", views.task_complete, name="task_complete"),
]
