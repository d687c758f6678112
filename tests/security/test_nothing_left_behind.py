"""Search words stay out of URLs; PHI responses are not cached; sign-out clears the browser (issue 18 item 5)."""

import json
import re

from django.urls import reverse

from tests import factories as f


def test_a_posted_search_lands_on_a_url_without_the_words(client, manager, case):
    client.force_login(manager)
    # when the search is posted without JavaScript
    response = client.post(reverse("cases:queue"), {"view": "all", "q": "Quintero", "overdue": "on"})
    # then the address shows the filters only and the words wait in the session
    assert response.status_code == 302
    assert "Quintero" not in response["Location"] and "q=" not in response["Location"]
    assert "overdue=on" in response["Location"]
    assert client.session["queue_search"] == "Quintero"
    page = client.get(response["Location"]).content.decode()
    assert 'value="Quintero"' in page  # the box still shows what is searched


def test_an_htmx_search_pushes_a_url_without_the_words(client, manager, case):
    client.force_login(manager)
    last = case.patient.last_name
    response = client.post(reverse("cases:queue"), {"view": "all", "q": last}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert f'id="case-{case.pk}"' in response.content.decode()
    assert response["HX-Push-Url"] == reverse("cases:queue") + "?view=all"
    assert last not in response.content.decode().split('name="querystring"')[1].split(">")[0]


def test_a_search_word_in_an_old_link_is_taken_out_of_the_url(client, manager, case):
    client.force_login(manager)
    response = client.get(reverse("cases:queue") + "?view=all&q=MRN-1234")
    assert response.status_code == 302 and response["Location"] == reverse("cases:queue") + "?view=all"
    assert client.session["queue_search"] == "MRN-1234"


def test_the_login_next_never_carries_a_search_word(client):
    response = client.get(reverse("cases:queue") + "?q=Quintero&view=all", follow=True)
    assert all("Quintero" not in url for url, _ in response.redirect_chain)
    assert "/login/" in response.redirect_chain[-1][0]


def test_the_queue_search_form_is_posted(client, manager):
    client.force_login(manager)
    body = client.get(reverse("cases:queue")).content.decode()
    form = body.split('class="filters"')[1].split(">")[0]
    assert 'method="post"' in form and "hx-post" in form and "hx-get" not in form
    assert 'autocomplete="off"' in body


def test_fax_case_search_is_posted(client, coordinator, practice):
    from integrations.fax.models import InboundFax

    fax = InboundFax.objects.create(practice=practice, vendor_fax_id="f-1", state=InboundFax.State.INBOX)
    client.force_login(coordinator)
    body = client.get(reverse("fax:detail", args=[fax.pk])).content.decode()
    assert f'<form method="post" action="{reverse("fax:detail", args=[fax.pk])}">' in body


def test_phi_pages_and_downloads_are_no_store(client, coordinator, case, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from cases.documents import document_upload

    settings.MEDIA_ROOT = tmp_path
    doc = document_upload(
        case=case, actor=None, file=SimpleUploadedFile("x.pdf", f.PDF_BYTES, "application/pdf"), title="x"
    )
    client.force_login(coordinator)
    for url in (
        reverse("cases:queue"),
        reverse("cases:detail", args=[case.pk]),
        reverse("cases:tasks"),
        reverse("cases:document", args=[case.pk, doc.pk]),
        reverse("sweep:page"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url


def test_the_history_cache_is_off_on_every_page(client, coordinator):
    client.force_login(coordinator)
    body = client.get(reverse("cases:queue")).content.decode()
    config = json.loads(re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", body).group(1))
    assert config["historyCacheSize"] == 0
    assert 'hx-history="false"' in body


def test_sign_out_clears_the_site_data(client, coordinator):
    client.force_login(coordinator)
    response = client.post(reverse("logout"))
    assert response["Clear-Site-Data"] == '"cache", "storage"'
    assert "no-store" in response["Cache-Control"]
