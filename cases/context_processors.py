from django.conf import settings

from cases.permissions import role_allows


def staff(request):
    """What base.html needs about the signed-in user and the installation."""
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    return {
        "demo_mode": settings.DEMO_MODE,
        "user_role": user.primary_role if signed_in else "",
        "can_view_dashboard": signed_in and role_allows(user, "dashboard"),
    }
