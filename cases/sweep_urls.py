from django.urls import path

from cases import dashboard_views, sweep_views

app_name = "sweep"

urlpatterns = [
    path("sweep/", sweep_views.sweep_page, name="page"),
    path("sweep/run/", sweep_views.sweep_run_now, name="run"),
    path("sweep/<int:pk>/assign/", sweep_views.sweep_assign, name="assign"),
    path("sweep/items/<int:pk>/reschedule/", sweep_views.sweep_reschedule, name="reschedule"),
    path("dashboard/", dashboard_views.dashboard, name="dashboard"),
]
