from django.conf import settings

from cases.permissions import can_enter_orders, can_view_dashboard, role_allows


def staff(request):
    """What base.html needs about the signed-in user and the installation."""
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    return {
        "demo_mode": settings.DEMO_MODE,
        # Automatic logoff (priorauth.security): the idle warning's timer and the sign-in page's wording.
        "idle_seconds": settings.SESSION_IDLE_SECONDS,
        "idle_minutes": settings.SESSION_IDLE_SECONDS // 60,
        "absolute_hours": settings.SESSION_ABSOLUTE_SECONDS // 3600,
        "user_role": user.primary_role if signed_in else "",
        # Menu links from the one permission table (cases/permissions.py).
        "can_enter_orders": signed_in and can_enter_orders(user),
        "can_view_dashboard": signed_in and can_view_dashboard(user),
        "can_view_authorizations": signed_in and bool(user.practice_id) and role_allows(user, "authorizations"),
        "can_view_access_log": signed_in and role_allows(user, "audit_log"),
    }
