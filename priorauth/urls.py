from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from priorauth import observability

admin.site.site_header = "Prior authorization command center – administration"
admin.site.site_title = "PA admin"

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # For load balancers and process supervisors: no login, no PHI.
    path("healthz/", login_not_required(observability.health_web), name="health_web"),
    path("healthz/cluster/", login_not_required(observability.health_cluster), name="health_cluster"),
    path("", include("cases.urls")),
    path("", include("cases.sweep.urls")),
    path("", include("cases.metrics.urls")),
    path("", include("cases.audit.urls")),
    path("", include("integrations.sms_twilio.urls")),
    path("", include("integrations.ehr_fhir.urls")),
    path("", include("integrations.submission.urls")),
    path("", include("integrations.pas.urls")),
    path("", include("integrations.fax.urls")),
    path("", include("integrations.portal.urls")),
    path("", include("integrations.x12_278.urls")),
]
