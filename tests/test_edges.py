"""Edges (issue 16, item 10): styled error pages with the menu, a favicon, the admin rules list's columns."""

import re

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.views.defaults import server_error

from tests import factories as f


def test_an_unknown_page_is_a_styled_404_with_the_menu(client, coordinator):
    # given a signed-in coordinator
    client.force_login(coordinator)
    # when they open an address that does not exist
    response = client.get("/no-such-page/")
    # then a 404 page with the app's menu, stylesheet and a way back
    html = response.content.decode()
    assert response.status_code == 404
    assert 'nav aria-label="Main"' in html and "css/app.css" in html
    assert "This page does not exist, or it is not yours to see" in html
    assert f'href="{reverse("cases:queue")}">Back to the work queue' in html


def test_a_case_of_another_practice_is_the_same_styled_404(client, outsider, case):
    client.force_login(outsider)
    response = client.get(reverse("cases:detail", args=[case.pk]))
    assert response.status_code == 404
    assert "This page does not exist, or it is not yours to see" in response.content.decode()


def test_a_role_refused_gets_a_styled_403_with_the_menu(client, coordinator):
    # given a coordinator (the dashboard is for managers; the sweep run too)
    client.force_login(coordinator)
    # when they try to run the sweep
    response = client.post(reverse("sweep:run"))
    # then a 403 page in the app's frame
    html = response.content.decode()
    assert response.status_code == 403
    assert "Your role cannot do this" in html and 'nav aria-label="Main"' in html


def test_the_500_page_renders_without_a_database_or_user(db):
    # Django renders it with no context at all: it must not need the user or the practice.
    response = server_error(RequestFactory().get("/"))
    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in html and "css/app.css" in html
    assert 'nav aria-label="Main"' in html


def test_every_page_links_the_favicon(client, coordinator):
    client.force_login(coordinator)
    assert 'rel="icon" href="/static/favicon.svg"' in client.get(reverse("cases:queue")).content.decode()


@pytest.mark.django_db
def test_admin_rules_list_shows_code_requires_pa_and_channel_first(client):
    # given an admin and a rule with conditions
    admin = f.UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    f.PayerRuleFactory(code="70551", site_of_service="22", diagnosis_prefixes="M54")
    # when the rules list is opened
    html = client.get(reverse("admin:payers_payerrule_changelist")).content.decode()
    # then its first columns are the code, whether PA is needed and the channel
    columns = re.findall(r'<th scope="col" class="(?:sortable )?column-(\w+)', html)
    assert columns[:3] == ["codes", "requires_pa", "channel_display"]
    assert "criteria_reference" not in columns and "effective_to" not in columns
    assert "site 22; dx M54" in html
    # and the list keeps to its box (its own stylesheet lets it scroll inside)
    assert "css/admin_rules.css" in html
