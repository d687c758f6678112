from django.urls import path

from cases.metrics import views

app_name = "metrics"

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
]
