"""Hostile PDFs are refused at upload and left out at build, fast (issue 18 item 8)."""

import time

import pytest

from cases import services as s
from cases.models import Document
from tests.cases.test_packet_pdf import built, fax_case, pdf_with_pages, upload  # noqa: F401 (fixtures)
from tests.security.hostile_pdfs import amplification_pdf, deflate_bomb_pdf


def test_a_page_repeated_100000_times_is_refused_at_upload_fast(fax_case):  # noqa: F811
    # given a 600 KB PDF whose page tree lists one page 100 000 times
    data = amplification_pdf()
    assert len(data) < 700_000
    # when it is uploaded
    started = time.monotonic()
    with pytest.raises(s.ActionRefused, match="more than 500 pages"):
        upload(fax_case, data, "Bomb")
    # then it is refused in well under the 18 s it cost to build a packet with it
    assert time.monotonic() - started < 3
    assert not Document.objects.filter(case=fax_case).exists()


def test_a_page_tree_that_lies_about_its_count_is_still_refused(fax_case):  # noqa: F811
    with pytest.raises(s.ActionRefused, match="more than 500 pages"):
        upload(fax_case, amplification_pdf(5_000, declared=1), "Liar")


def test_a_deflate_bomb_is_refused_at_upload(fax_case, settings):  # noqa: F811
    settings.DOCUMENT_MAX_DECODED_BYTES = 20 * 1024 * 1024
    with pytest.raises(s.ActionRefused, match="decode to more than 20"):
        upload(fax_case, deflate_bomb_pdf(64 * 1024 * 1024), "Bomb")


def test_the_upload_view_answers_with_the_reason(client, fax_case, coordinator):  # noqa: F811
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(coordinator)
    response = client.post(
        f"/cases/{fax_case.pk}/upload/",
        {"file": SimpleUploadedFile("x.pdf", amplification_pdf(), "application/pdf"), "kind": "other"},
        follow=True,
    )
    assert response.status_code == 200
    assert "more than 500 pages" in response.content.decode()


def test_a_stored_bomb_is_left_out_of_the_packet_fast_with_its_reason(built, fax_case):  # noqa: F811
    # given a bomb that got in before the limits (stored directly, as a channel would)
    from cases.documents import document_store

    good = upload(fax_case, pdf_with_pages("Good"), "Good")
    bomb = document_store(
        case=fax_case,
        actor=None,
        kind="other",
        title="Old bomb",
        content=amplification_pdf(),
        content_type="application/pdf",
        name="x.pdf",
        message="stored",
    )
    started = time.monotonic()
    packet = built()
    assert time.monotonic() - started < 5
    assert packet.included == (good.pk,)
    assert [d.document_id for d in packet.skipped] == [bomb.pk]
    assert "more than 500 pages" in packet.skipped[0].reason


def test_the_packet_page_budget_leaves_later_documents_out(built, fax_case, settings):  # noqa: F811
    first = upload(fax_case, pdf_with_pages("One", "Two"), "First")
    upload(fax_case, pdf_with_pages("Three", "Four"), "Second")
    settings.PACKET_MAX_PAGES = 3
    packet = built()
    assert packet.included == (first.pk,)
    assert "page limit" in packet.skipped[0].reason
