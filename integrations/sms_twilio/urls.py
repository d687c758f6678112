from django.urls import path

from integrations.sms_twilio import views

app_name = "sms_twilio"

urlpatterns = [
    path("integrations/twilio/status", views.status_callback, name="status"),
    path("integrations/twilio/inbound", views.inbound, name="inbound"),
    path("integrations/twilio/cases/<int:pk>/opt-out", views.case_phone_opt_out, name="case_opt_out"),
]
