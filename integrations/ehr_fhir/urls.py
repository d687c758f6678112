from django.urls import path

from integrations.ehr_fhir import sandbox, sandbox_auth

app_name = "ehr_fhir"

urlpatterns = [
    path("sandbox/ehr/token", sandbox_auth.token, name="sandbox_token"),
    path("sandbox/ehr/fhir/<path:path>", sandbox.fhir_endpoint, name="sandbox_fhir"),
]
