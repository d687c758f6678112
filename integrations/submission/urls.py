from django.urls import path

from integrations.submission import views

app_name = "submission"

urlpatterns = [
    path("cases/<int:pk>/submission/", views.case_submission, name="case_submission"),
]
