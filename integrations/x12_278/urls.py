from django.urls import path

from integrations.x12_278 import sandbox, views

app_name = "x12_278"

urlpatterns = [
    path("cases/<int:pk>/eligibility/", views.case_eligibility, name="case_eligibility"),
    path("sandbox/clearinghouse/core/", sandbox.core_endpoint, name="sandbox_core"),
]
