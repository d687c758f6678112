from django.urls import path

from cases.audit import views

app_name = "audit"

urlpatterns = [
    path("audit/", views.access_log, name="log"),
]
