from django.urls import path

from integrations.pas import sandbox, sandbox_auth, sandbox_notify, views

app_name = "pas"

urlpatterns = [
    path("integrations/pas/notify/<int:payer_id>/", views.notify, name="notify"),
    path("sandbox/payer/<slug:payer>/token", sandbox_auth.token, name="sandbox_token"),
    path("sandbox/payer/<slug:payer>/fhir/Claim/$<str:op>", sandbox.operation, name="sandbox_operation"),
    path("sandbox/payer/<slug:payer>/fhir/Subscription", sandbox_notify.subscription, name="sandbox_subscriptions"),
    path(
        "sandbox/payer/<slug:payer>/fhir/Subscription/<int:pk>",
        sandbox_notify.subscription,
        name="sandbox_subscription",
    ),
]
