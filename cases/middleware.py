import zoneinfo

from django.utils import timezone


class PracticeTimezoneMiddleware:
    """Show every time in the signed-in user's practice's zone (the server's zone otherwise)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        zone = None
        if user is not None and user.is_authenticated and user.practice_id:
            try:
                zone = zoneinfo.ZoneInfo(user.practice.time_zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                zone = None
        if zone:
            timezone.activate(zone)
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
