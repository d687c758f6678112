from django.conf import settings


def staff(request):
    """What base.html needs about the signed-in user and the installation."""
    user = getattr(request, "user", None)
    return {
        "demo_mode": settings.DEMO_MODE,
        "user_role": user.primary_role if user is not None and user.is_authenticated else "",
    }
