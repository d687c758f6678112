from allauth.account import views as account_views
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path, reverse
from django.utils.http import urlencode

from priorauth import observability, security

admin.site.site_header = "Prior authorization command center – administration"
admin.site.site_title = "PA admin"


@login_not_required
def _admin_login(request):
    # The admin's own form takes a password alone: admins sign in through the one sign-in page, second factor
    # included, like everyone (README "Sign-in and MFA").
    return redirect(f"{reverse('login')}?{urlencode({'next': request.GET.get('next') or '/admin/'})}")


admin.site.login = _admin_login

urlpatterns = [
    # django-allauth's sign-in (password, then the second factor; or a passkey) under the project's old names.
    path("login/", account_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("allauth.urls")),
    path("session/keepalive/", security.session_keepalive, name="session_keepalive"),
    path("admin/", admin.site.urls),
    # For load balancers and process supervisors: no login, no PHI.
    path("healthz/", login_not_required(observability.health_web), name="health_web"),
    path("healthz/cluster/", login_not_required(observability.health_cluster), name="health_cluster"),
    # Browsers ask for /favicon.ico whatever the page links; the icon itself is a static SVG.
    path(
        "favicon.ico",
        # The static URL is looked up per request: under hashed static files it exists only after collectstatic.
        login_not_required(lambda request: redirect(static("favicon.svg"), permanent=True)),
        name="favicon",
    ),
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
