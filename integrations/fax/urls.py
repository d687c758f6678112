from django.urls import path

from integrations.fax import views

app_name = "fax"

urlpatterns = [
    path("integrations/fax/events/", views.events, name="events"),
    path("integrations/fax/media/<str:token>.pdf", views.media, name="media"),
    path("faxes/inbox/", views.inbox, name="inbox"),
    path("faxes/<int:pk>/", views.detail, name="detail"),
    path("faxes/<int:pk>/pdf", views.pdf, name="pdf"),
    path("faxes/<int:pk>/file", views.file_to_case, name="file"),
    path("faxes/<int:pk>/record", views.record, name="record"),
]
