from django.urls import path

from cases.sweep import views

app_name = "sweep"

urlpatterns = [
    path("sweep/", views.sweep_page, name="page"),
    path("sweep/run/", views.sweep_run_now, name="run"),
    path("sweep/<int:pk>/assign/", views.sweep_assign, name="assign"),
    path("sweep/items/<int:pk>/reschedule/", views.sweep_reschedule, name="reschedule"),
]
