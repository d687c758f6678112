from django.urls import path

from integrations.ehr_fhir import sandbox

app_name = "ehr_fhir"

urlpatterns = [
    path("sandbox/ehr/fhir/<path:path>", sandbox.fhir_endpoint, name="sandbox_fhir"),
]
