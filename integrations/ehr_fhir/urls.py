from django.urls import path

from integrations.ehr_fhir import sandbox, views

app_name = "ehr_fhir"

urlpatterns = [
    path("orders/new/", views.order_new, name="order_new"),
    path("sandbox/ehr/fhir/<path:path>", sandbox.fhir_endpoint, name="sandbox_fhir"),
]
