from django.urls import path

from integrations.portal import views

app_name = "portal"

urlpatterns = [
    path("cases/<int:pk>/portal/", views.guide, name="guide"),
    path("cases/<int:pk>/portal/submitted", views.submitted, name="submitted"),
]
