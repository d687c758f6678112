import zoneinfo

from django.shortcuts import redirect
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


class NothingLeftBehindMiddleware:
    """Pages and files answered to a signed-in user are not kept by a browser or proxy cache; sign-out wipes.

    Every page behind the login shows patient data or leads to it, so the rule is
    the simple one: a response to a signed-in user is `Cache-Control: no-store,
    private` (a view that set its own Cache-Control keeps it). A sign-out answers
    `Clear-Site-Data: "cache", "storage"` so the browser drops its HTTP cache and
    the page's storage (htmx's history cache lived in sessionStorage). A signed-out
    request with a search term in its URL is sent on without it, so the login
    page's `?next=` cannot carry it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        if not signed_in and request.method == "GET" and "q" in request.GET:
            # An old link with search words: drop them before the login redirect copies the URL into ?next=.
            query = request.GET.copy()
            del query["q"]
            return redirect(request.path + (f"?{query.urlencode()}" if query else ""))
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        if match is not None and match.view_name == "logout" and request.method == "POST":
            response["Clear-Site-Data"] = '"cache", "storage"'
            response["Cache-Control"] = "no-store, private"
        elif signed_in and "Cache-Control" not in response:
            response["Cache-Control"] = "no-store, private"
        return response
