from django.urls import path

from cases.metrics import views
from cases.simulation import views as simulation_views

app_name = "metrics"

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/simulation/", simulation_views.simulation, name="simulation"),
]
