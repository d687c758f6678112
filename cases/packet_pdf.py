"""The submission packet: one PDF a coordinator faxes to the payer or uploads to its portal.

PRODUCT.md step 5: fax payers get "a PDF packet with cover sheet". For a
channel that is not automated (fax, portal, X12 until built) `case_submit`
leaves a SUBMIT task; this builds what that person sends, in this order:

1. a fax cover sheet: to the payer and its fax line, from the practice, the
   date in the practice's time zone, the total page count, EXPEDITED REVIEW
   REQUESTED when it is, the case reference, a confidentiality notice. No
   patient data on the cover: it is the page a stranger reads when a fax goes
   to a wrong number;
2. the prior authorization request: member, payer and plan, ordering
   provider, the service with its codes and diagnoses, urgency, the rule's
   criteria reference, and the enclosed documents with their pages;
3. medical necessity: the summary (a draft is printed marked NOT ATTESTED),
   who attested it and when, each requirement met / missing / resolved with
   its evidence as on the case page;
4. when some documents are not in the packet, a page saying which and why
   (kept only in the EHR, damaged, password-protected, over the size budget);
5. every document of the case with a file: PDF pages as they are, a PNG or
   JPEG alone on a page scaled to fit, a text file (an appeal letter as sent)
   typeset.

fpdf2 draws our pages with DejaVu Sans embedded: PDF's core fonts are
latin-1 only and patients' names are not. pypdf copies the documents' pages.
Each document is converted on its own first, so a damaged one is listed and
the rest is intact. Everything is built in memory; PACKET_MAX_BYTES bounds
the documents read. The cover counts every page, so our pages are laid out
again until their page numbers stop changing (twice, in practice).

The packet goes to the payer, so it carries the member's name, birth date
and member id; it never goes to a log, a task's arguments or a URL.
"""

from __future__ import annotations

import io
import logging
import unicodedata
import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from cases.detection import coverage_active_for
from cases.documents import DocumentOverLimit, document_store, pdf_check_limits, sniff_content_type
from cases.models import CaseEvent, Coverage, Document, PriorAuthCase, RequirementStatus, Urgency, User
from cases.permissions import PACKET_STATUSES
from cases.reference import case_reference
from cases.services import ActionRefused, case_event_add

log = logging.getLogger(__name__)

FONT = "DejaVu"
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
# US payers' fax lines print Letter.
PAGE_FORMAT = "letter"
# About 200 dpi over a Letter page: what a fine-mode fax resolves. More only adds bytes.
IMAGE_MAX_PIXELS = 2200
# An earlier packet is kept as a document (what was sent); it never goes inside the next one.
LEFT_OUT_KINDS = frozenset({Document.Kind.SUBMISSION_PACKET})

COVER_NOTICE = (
    "CONFIDENTIALITY NOTICE. The pages that follow contain protected health information, which federal law "
    "(HIPAA, 45 CFR Parts 160 and 164) and state law keep confidential. They are sent only to the health plan "
    "named above, for the review of this prior authorization request. If you are not that recipient, do not "
    "read, copy, use or pass on any of it: call the sender at the number above, and destroy every copy you hold. "
    "The recipient may disclose this information further only as the law permits."
)
# CMS place-of-service codes the practice's orders use most (the full list is CMS's POS code set).
PLACES_OF_SERVICE = {
    "02": "Telehealth",
    "11": "Office",
    "12": "Home",
    "19": "Off-campus outpatient hospital",
    "21": "Inpatient hospital",
    "22": "On-campus outpatient hospital",
    "23": "Emergency room, hospital",
    "24": "Ambulatory surgical center",
    "31": "Skilled nursing facility",
    "32": "Nursing facility",
    "49": "Independent clinic",
    "81": "Independent laboratory",
}
STATE_LABELS = {
    RequirementStatus.State.MET: "MET",
    RequirementStatus.State.GAP: "MISSING",
    RequirementStatus.State.WAIVED: "RESOLVED",
}


class PacketError(Exception):
    """No packet can be built (no payer, the font is missing …); the message is for staff."""


class _NotIncluded(Exception):
    """One document cannot go into the packet; the message says why (read by staff and the payer)."""


@dataclass(frozen=True)
class SkippedDocument:
    document_id: int
    title: str
    reason: str


@dataclass(frozen=True)
class Packet:
    """A built packet: the PDF, its pages, and which documents are in it and which not (and why)."""

    content: bytes
    page_count: int
    included: tuple[int, ...]
    skipped: tuple[SkippedDocument, ...]


@dataclass(frozen=True)
class _Part:
    """One included document, converted to a PDF of its own."""

    document: Document
    pdf: bytes
    pages: int


@dataclass(frozen=True)
class _Layout:
    """Where our own pages fall; the cover and the enclosure list print these numbers."""

    own_pages: int
    request: int
    necessity: int
    missing: int | None


@dataclass(frozen=True)
class _Facts:
    """What the pages say, read from the database once (the pages are drawn twice)."""

    case: PriorAuthCase
    coverage: Coverage | None
    requirements: list
    attested_by: User | None
    reference: str
    now: datetime  # in the practice's time zone


# ---------------------------------------------------------------------------
# Building


def submission_packet_pdf(case: PriorAuthCase) -> Packet:
    """Build the submission packet of `case` (its pages: see the module docstring).

    Raises PacketError when no packet can be made at all. A document that
    cannot be included is listed on a page of the packet and in
    `Packet.skipped` with the reason, never dropped silently.
    """
    from pypdf import PdfWriter

    if not case.payer_id:
        raise PacketError("The case has no payer: there is nobody to send a packet to.")
    fonts = _font_paths()
    facts = _facts(case)
    parts, skipped = _documents(case, fonts)
    layout = None
    # Pass one learns where our pages fall; pass two prints those numbers. A
    # third only if printing them moved a page break (it cannot in practice).
    for _ in range(3):
        pdf = _Pages(fonts, footer=facts.reference)
        new_layout = _draw(pdf, facts, parts, skipped, layout)
        if new_layout == layout:
            break
        layout = new_layout
    else:
        raise PacketError("The packet's page numbers did not settle; please report this case id.")

    out = PdfWriter()
    out.append(io.BytesIO(bytes(pdf.output())))
    for part in parts:
        out.append(io.BytesIO(part.pdf), import_outline=False)
    out.add_metadata({"/Title": f"Prior authorization request, {facts.reference}", "/Producer": "fpdf2 + pypdf"})
    buffer = io.BytesIO()
    out.write(buffer)
    expected = layout.own_pages + sum(p.pages for p in parts)
    if len(out.pages) != expected:
        # The cover would state a wrong page count: refuse rather than send that.
        raise PacketError(f"The packet has {len(out.pages)} pages but its cover counts {expected}.")
    return Packet(
        content=buffer.getvalue(),
        page_count=expected,
        included=tuple(p.document.pk for p in parts),
        skipped=tuple(skipped),
    )


def _font_paths() -> dict[str, Path]:
    folder = Path(settings.PACKET_FONT_DIR)
    paths = {style: folder / name for style, name in FONT_FILES.items()}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise PacketError(
            "The packet's font is not installed (" + ", ".join(missing) + "). Install DejaVu Sans "
            "(Debian: apt-get install fonts-dejavu-core) or point PACKET_FONT_DIR at its folder."
        )
    return paths


def _facts(case: PriorAuthCase) -> _Facts:
    order = case.order
    # The coverage detection recorded on the order, if it is this payer's; else today's answer.
    coverage = Coverage.objects.select_related("plan").filter(pk=order.coverage_id, payer_id=case.payer_id).first()
    if coverage is None:
        coverage, _ = coverage_active_for(order=order)
    attested_by = None
    if case.summary_attested_by_id:
        attested_by = User.objects.select_related("provider").filter(pk=case.summary_attested_by_id).first()
    try:
        zone = zoneinfo.ZoneInfo(case.practice.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = timezone.get_default_timezone()
    return _Facts(
        case=case,
        coverage=coverage,
        requirements=list(case.requirement_statuses.select_related("requirement", "resolved_by")),
        attested_by=attested_by,
        reference=case.payer_tracking_id or f"case {case.pk}",
        now=timezone.localtime(timezone.now(), zone),
    )


def _documents(case: PriorAuthCase, fonts) -> tuple[list[_Part], list[SkippedDocument]]:
    """Each document as a PDF of its own, or the reason it cannot be in the packet."""
    parts, skipped = [], []
    budget = settings.PACKET_MAX_BYTES
    pages_left = settings.PACKET_MAX_PAGES
    for doc in case.documents.exclude(kind__in=LEFT_OUT_KINDS).order_by("created_at", "pk"):
        try:
            data = _read(doc, budget)
            pdf, pages = _convert(doc, data, fonts)
            if pages > pages_left:
                raise _NotIncluded(
                    f"the packet is at its page limit ({settings.PACKET_MAX_PAGES} pages of documents): "
                    "send this document separately."
                )
        except _NotIncluded as exc:
            skipped.append(SkippedDocument(document_id=doc.pk, title=doc.title, reason=str(exc)))
            continue
        budget -= len(data)
        pages_left -= pages
        parts.append(_Part(document=doc, pdf=pdf, pages=pages))
    return parts, skipped


def _read(doc: Document, budget: int) -> bytes:
    if not doc.file:
        where = f" ({doc.ehr_reference})" if doc.ehr_reference else ""
        raise _NotIncluded(f"kept in the EHR only{where}: print it from the chart and send it with the packet.")
    try:
        size = doc.file.size
        if size > budget:
            raise _NotIncluded(
                f"the packet is at its size limit ({settings.PACKET_MAX_BYTES // (1024 * 1024)} MB of documents): "
                "send this document separately."
            )
        with doc.file.open("rb") as fh:
            return fh.read()
    except OSError as exc:
        raise _NotIncluded("its stored file is missing or cannot be read.") from exc


def _convert(doc: Document, data: bytes, fonts) -> tuple[bytes, int]:
    """The document as a standalone PDF and its page count; _NotIncluded with the reason otherwise."""
    sniffed = sniff_content_type(data[:16])
    declared = (doc.content_type or "").split(";")[0].strip().lower()
    kind = sniffed[0] if sniffed else declared
    # Third-party parsers meet untrusted bytes here and raise many kinds of
    # errors on a damaged file; whichever it is, this document is left out
    # with a reason and the rest of the packet is built.
    if kind == "application/pdf":
        return _pdf_part(data)
    if kind in ("image/png", "image/jpeg"):
        return _image_part(data, jpeg=kind == "image/jpeg")
    if kind == "text/plain":
        return _text_part(doc, data, fonts)
    if declared in ("application/pdf", "image/png", "image/jpeg"):
        raise _NotIncluded(f"damaged file: its content is not the {declared.split('/')[1].upper()} it claims to be.")
    raise _NotIncluded(f"a file of type {declared or 'unknown'} cannot be put into a PDF packet.")


def _pdf_part(data: bytes) -> tuple[bytes, int]:
    from pypdf import PdfReader, PdfWriter

    try:
        # Before pypdf copies a single page: a document stored before the limits (or by a
        # channel) is checked like an upload, so one bad file cannot stall the download.
        pdf_check_limits(data)
    except DocumentOverLimit as exc:
        raise _NotIncluded(str(exc).replace("The PDF ", "the PDF ", 1)) from exc
    except ValueError as exc:
        raise _NotIncluded("damaged PDF: it could not be read. Upload a good copy.") from exc
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            # Only an owner password (printing allowed, editing not) opens with an empty one.
            try:
                opened = reader.decrypt("")
            except Exception:  # unknown cipher or a damaged encryption dictionary
                opened = 0
            if not opened:
                raise _NotIncluded(
                    "password-protected PDF: save or print it without the password, upload that copy, "
                    "and build the packet again."
                )
        writer = PdfWriter()
        for page in reader.pages:
            writer.add_page(page)
        if not writer.pages:
            raise _NotIncluded("the PDF has no pages.")
        buffer = io.BytesIO()
        writer.write(buffer)
    except _NotIncluded:
        raise
    except Exception as exc:  # see _convert
        raise _NotIncluded("damaged PDF: it could not be read. Upload a good copy.") from exc
    return buffer.getvalue(), len(writer.pages)


def _image_part(data: bytes, *, jpeg: bool) -> tuple[bytes, int]:
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()  # structure and checksums; a truncated file fails on load below
        image = Image.open(io.BytesIO(data))
        image.load()
        # Phone photos are stored sideways with an EXIF rotation: print them upright.
        image = ImageOps.exif_transpose(image)
        if image.mode not in ("1", "L", "LA", "RGB", "RGBA", "P", "CMYK"):
            image = image.convert("RGB")
        image.thumbnail((IMAGE_MAX_PIXELS, IMAGE_MAX_PIXELS))
        landscape = image.width > image.height
        pdf = FPDF(orientation="L" if landscape else "P", format=PAGE_FORMAT)
        pdf.set_auto_page_break(False)
        if jpeg and image.mode in ("L", "RGB"):
            pdf.set_image_filter("DCTDecode")  # a photo stays a JPEG (a tenth of the bytes of Flate)
        pdf.add_page()
        margin = 10
        scale = min((pdf.w - 2 * margin) / image.width, (pdf.h - 2 * margin) / image.height)
        width, height = image.width * scale, image.height * scale
        pdf.image(image, x=(pdf.w - width) / 2, y=(pdf.h - height) / 2, w=width, h=height)
        return bytes(pdf.output()), 1
    except Exception as exc:  # see _convert
        raise _NotIncluded("damaged image: it could not be read. Upload a good copy.") from exc


def _text_part(doc: Document, data: bytes, fonts) -> tuple[bytes, int]:
    pdf = _Pages(fonts)
    pdf.add_page()
    pdf.heading(doc.title)
    pdf.para(data.decode("utf-8", errors="replace"))
    return bytes(pdf.output()), pdf.pages_count


# ---------------------------------------------------------------------------
# Drawing our pages


class _Pages(FPDF):
    """Letter pages in DejaVu Sans, with the case reference and page number at the foot."""

    def __init__(self, fonts: dict[str, Path], *, footer: str = ""):
        super().__init__(format=PAGE_FORMAT)
        for style, path in fonts.items():
            self.add_font(FONT, style, str(path))
        self.set_margins(18, 16, 18)
        self.set_auto_page_break(True, margin=18)
        self.footer_label = footer
        self.total_pages: int | None = None
        self.set_font(FONT, size=10)
        # What the font can draw; anything else is replaced before fpdf2 sees it
        # (fpdf2 would log the missing characters: a piece of a patient's name).
        self._glyphs = set.intersection(*(set(font.cmap) for font in self.fonts.values()))

    def normalize_text(self, text: str) -> str:
        return super().normalize_text(self._drawable(text))

    def _drawable(self, text: str) -> str:
        text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
        out = []
        for ch in text:
            if ch == "\n" or ord(ch) in self._glyphs:
                out.append(ch)
            elif unicodedata.category(ch).startswith("C"):
                continue  # control and invisible formatting characters
            else:
                # A letter the font lacks: its base letter when it has one ("ǅ" → "Dž"), else "?".
                base = "".join(
                    c
                    for c in unicodedata.normalize("NFKD", ch)
                    if ord(c) in self._glyphs and not unicodedata.combining(c)
                )
                out.append(base or "?")
        return "".join(out)

    def footer(self):
        if not self.footer_label:
            return
        self.set_y(-12)
        self.set_font(FONT, size=8)
        of = f" of {self.total_pages}" if self.total_pages else ""
        self.cell(0, 5, f"Prior authorization request · {self.footer_label} · page {self.page_no()}{of}", align="C")

    # Building blocks -------------------------------------------------------

    def heading(self, text: str, size: int = 15):
        self.set_font(FONT, "B", size)
        self.multi_cell(0, size * 0.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)

    def section(self, text: str):
        self.ln(3)
        self.set_font(FONT, "B", 11)
        self.cell(0, 6, text.upper(), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(120)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(1.5)

    def row(self, label: str, value: str, *, label_width: float = 42):
        self.set_font(FONT, "B", 9)
        self.cell(label_width, 5.5, label)
        self.set_font(FONT, size=10)
        self.multi_cell(0, 5.5, value or "—", align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def para(self, text: str, size: int = 10):
        self.set_font(FONT, size=size)
        self.multi_cell(0, size * 0.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def banner(self, text: str, size: int = 16):
        self.set_font(FONT, "B", size)
        self.set_fill_color(0)
        self.set_text_color(255)
        self.multi_cell(0, size * 0.6, text, align="C", fill=True, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0)
        self.ln(2)


def _draw(pdf: _Pages, facts: _Facts, parts: list[_Part], skipped, layout: _Layout | None) -> _Layout:
    """Draw the cover and our pages with the numbers of `layout`; return where they fell."""
    if layout is not None:
        pdf.total_pages = layout.own_pages + sum(p.pages for p in parts)
    _cover(pdf, facts, parts, layout)
    request = pdf.page_no() + 1
    _request_page(pdf, facts, parts, layout)
    necessity = pdf.page_no() + 1
    _necessity_page(pdf, facts)
    missing = None
    if skipped:
        missing = pdf.page_no() + 1
        _missing_page(pdf, skipped)
    return _Layout(own_pages=pdf.pages_count, request=request, necessity=necessity, missing=missing)


def _page_range(first: int, count: int) -> str:
    return f"{first}" if count == 1 else f"{first}–{first + count - 1}"


def _pages_label(pages: str) -> str:
    return f"Pages {pages}" if "–" in pages else f"Page {pages}"


def _enclosures(parts: list[_Part], layout: _Layout | None):
    """(pages, part) for each enclosed document, numbered after our own pages."""
    start = layout.own_pages + 1 if layout else None
    for part in parts:
        yield (_page_range(start, part.pages) if start else "…"), part
        if start:
            start += part.pages


def _cover(pdf: _Pages, facts: _Facts, parts, layout):
    case = facts.case
    practice, payer = case.practice, case.payer
    pdf.add_page()
    # One page whatever the names' lengths: the page count on it depends on that.
    pdf.set_auto_page_break(False)
    pdf.set_font(FONT, "B", 13)
    pdf.cell(0, 7, practice.name[:80], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "B", 34)
    pdf.cell(0, 18, "FAX", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, size=14)
    pdf.cell(0, 8, "Prior authorization request", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    if case.urgency == Urgency.EXPEDITED:
        pdf.banner("EXPEDITED REVIEW REQUESTED", size=20)
        pdf.para(
            "The prescriber indicates that waiting the standard review time could seriously jeopardize the "
            "patient's life, health or ability to regain maximum function.",
            size=9,
        )
        pdf.ln(2)
    pdf.ln(2)
    rows = [
        ("Date", f"{facts.now:%B %-d, %Y, %-I:%M %p %Z}"),
        ("To", f"{payer.name[:80]}, prior authorization / utilization management"),
        ("To fax", payer.fax or "not on file: use the payer's prior authorization fax line"),
        ("To phone", payer.phone),
        ("From", practice.name[:80]),
        ("From phone", practice.phone),
        ("From fax", practice.fax),
        ("Re", f"Prior authorization request, reference {facts.reference[:60]}"),
        ("Our case", str(case.pk)),
        ("Reply ref.", f"{case_reference(case.pk)} (please quote it on your answer)"),
        ("Pages", f"{pdf.total_pages} including this cover" if pdf.total_pages else "…"),
    ]
    for label, value in rows:
        pdf.row(label, value, label_width=32)
    pdf.section("Contents")
    known = layout is not None
    contents = [
        (str(layout.request) if known else "…", "Prior authorization request"),
        (str(layout.necessity) if known else "…", "Medical necessity and documentation checklist"),
    ]
    if known and layout.missing:
        contents.append((str(layout.missing), "Documents not included in this packet"))
    if parts:
        pages = _page_range(layout.own_pages + 1, sum(p.pages for p in parts)) if known else "…"
        contents.append(
            (pages, f"Enclosed documents ({len(parts)}), listed on page {layout.request if known else '…'}")
        )
    for pages, what in contents:
        pdf.row(_pages_label(pages), what, label_width=32)
    pdf.set_y(-62)
    pdf.set_font(FONT, size=8)
    pdf.set_draw_color(0)
    pdf.multi_cell(0, 4, COVER_NOTICE, border=1, align="L", padding=2, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_auto_page_break(True, margin=18)


def _request_page(pdf: _Pages, facts: _Facts, parts, layout):
    case, coverage = facts.case, facts.coverage
    order, patient = case.order, case.patient
    provider, practice = order.ordering_provider, case.practice
    pdf.add_page()
    pdf.heading("Prior authorization request")
    if case.urgency == Urgency.EXPEDITED:
        pdf.banner("EXPEDITED REVIEW REQUESTED", size=12)
    pdf.row("Reference", facts.reference)
    pdf.row("Date", f"{facts.now:%m/%d/%Y}")

    pdf.section("Member")
    pdf.row("Name", f"{patient.last_name}, {patient.first_name}")
    pdf.row("Date of birth", f"{patient.birth_date:%m/%d/%Y}")
    pdf.row("Member ID", coverage.member_id if coverage else "NOT ON FILE")
    pdf.row("Group number", coverage.group_number if coverage else "")

    pdf.section("Payer and plan")
    payer = case.payer
    pdf.row("Payer", payer.name + (f" (payer id {payer.payer_id})" if payer.payer_id else ""))
    plan = case.plan or (coverage.plan if coverage else None)
    pdf.row("Plan", f"{plan.name} ({plan.get_line_of_business_display()})" if plan else "")

    pdf.section("Ordering provider")
    pdf.row(
        "Name",
        f"{provider.first_name} {provider.last_name}" + (f", {provider.credentials}" if provider.credentials else ""),
    )
    pdf.row("NPI", provider.npi)
    pdf.row("Specialty", provider.specialty)
    pdf.row(
        "Practice",
        practice.name
        + (f", group NPI {practice.npi}" if practice.npi else "")
        + (f", phone {practice.phone}" if practice.phone else "")
        + (f", fax {practice.fax}" if practice.fax else ""),
    )
    if order.location_id:
        pdf.row("Location", order.location.name)

    pdf.section("Requested service")
    pdf.row("Type", order.get_kind_display())
    pdf.row("Code", f"{order.code_system} {order.code}")
    pdf.row("Description", order.description)
    pdf.row("Quantity", f"{_number(order.quantity)} {order.units}".strip())
    site = order.site_of_service
    pdf.row("Site of service", f"{site} {PLACES_OF_SERVICE.get(site, '')}".strip() if site else "")
    codes = ", ".join(order.diagnosis_codes or [])
    pdf.row("Diagnoses", f"ICD-10-CM {codes}" if codes else "none given")
    pdf.row("Requested date", f"{order.requested_date:%m/%d/%Y}" if order.requested_date else "")
    pdf.row("Scheduled date", f"{order.scheduled_date:%m/%d/%Y}" if order.scheduled_date else "not scheduled")
    pdf.row("Urgency", case.get_urgency_display())
    if case.rule_id and case.rule.criteria_reference:
        pdf.row("Payer criteria", case.rule.criteria_reference)

    pdf.section("Enclosed documents")
    if not parts:
        pdf.para("None.")
    for pages, part in _enclosures(parts, layout):
        pdf.row(_pages_label(pages), f"{part.document.title} ({part.document.get_kind_display()})")


def _necessity_page(pdf: _Pages, facts: _Facts):
    case = facts.case
    pdf.add_page()
    pdf.heading("Medical necessity")
    tz = facts.now.tzinfo
    if not case.summary_text.strip():
        pdf.para("No statement of medical necessity was written for this request.")
    elif case.summary_is_attested:
        pdf.para(case.summary_text)
        pdf.ln(2)
        who = facts.attested_by
        name = who.display() if who else "a clinician (account removed)"
        if who is not None and who.provider_id and who.provider.credentials:
            name += f", {who.provider.credentials}"
        when = timezone.localtime(case.summary_attested_at, tz)
        pdf.set_font(FONT, "B", 10)
        pdf.multi_cell(
            0, 5, f"Attested by {name} on {when:%m/%d/%Y at %-I:%M %p %Z}.", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
    else:
        pdf.banner("NOT ATTESTED", size=14)
        pdf.para("Draft: no clinician has attested this text.", size=9)
        pdf.ln(1)
        pdf.para(case.summary_text)

    pdf.section(
        "Documentation checklist"
        + (f" ({case.rule.criteria_reference})" if case.rule_id and case.rule.criteria_reference else "")
    )
    if not facts.requirements:
        pdf.para("The payer's rule lists no documentation requirements.")
    for rs in facts.requirements:
        pdf.row(STATE_LABELS.get(rs.state, rs.state.upper()), rs.requirement.description, label_width=28)
        lines = []
        for ev in rs.evidence or []:
            value, date = str(ev.get("value") or ""), str(ev.get("date") or "")
            if value or date:
                lines.append(f"{value}{f' ({date})' if date else ''}".strip())
        if rs.note:
            lines.append(rs.note + (f" — {rs.resolved_by.display()}" if rs.resolved_by_id else ""))
        for line in lines:
            pdf.set_x(pdf.l_margin + 28)
            pdf.set_font(FONT, size=9)
            pdf.multi_cell(0, 4.6, line, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1)


def _missing_page(pdf: _Pages, skipped):
    pdf.add_page()
    pdf.heading("Documents not included in this packet")
    pdf.para(
        "The practice holds these documents for this request, but they could not be put into this packet. "
        "The practice will send them separately if they are needed."
    )
    pdf.ln(2)
    for item in skipped:
        pdf.row("Document", item.title)
        pdf.row("Why", item.reason)
        pdf.ln(2)


def _number(value) -> str:
    text = f"{Decimal(value):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# ---------------------------------------------------------------------------
# Services: downloading and keeping the packet. Both go on the timeline.


def _summary(packet: Packet) -> str:
    text = f"{packet.page_count} page{'s' if packet.page_count != 1 else ''}"
    if packet.skipped:
        n = len(packet.skipped)
        text += f", {n} document{'s' if n != 1 else ''} not included"
    return text


def _details(packet: Packet) -> dict:
    # Ids and counts only: the timeline shows titles on the case page already.
    return {
        "pages": packet.page_count,
        "skipped": len(packet.skipped),
        "included_document_ids": list(packet.included),
        "skipped_document_ids": [s.document_id for s in packet.skipped],
    }


def packet_download(*, case: PriorAuthCase, actor) -> Packet:
    """The packet for staff to send. A PHI export: each download goes on the timeline."""
    if not case.payer_id or case.status not in PACKET_STATUSES:
        raise ActionRefused(
            "A submission packet is made for a case with a payer once it is ready to submit (or with the payer)."
        )
    packet = submission_packet_pdf(case)
    case_event_add(
        case=case,
        kind=CaseEvent.Kind.DOCUMENT,
        actor=actor,
        message=f"Submission packet downloaded ({_summary(packet)})",
        **_details(packet),
    )
    return packet


def packet_build_for_record(case: PriorAuthCase) -> tuple[Packet | None, str]:
    """The packet about to be kept as sent, or (None, why not). Never raises: the outcome comes first."""
    try:
        with transaction.atomic():  # a savepoint: a failed read must not break the caller's transaction
            return submission_packet_pdf(case), ""
    except PacketError as exc:
        return None, str(exc)
    except Exception as exc:  # whatever failed, the payer's answer is still recorded
        # The class only: a parser's message can quote the text it choked on.
        log.error("submission packet for case %s failed: %s", case.pk, type(exc).__name__)
        return None, f"unexpected error ({type(exc).__name__})"


def packet_keep_as_sent(*, case: PriorAuthCase, actor, packet: Packet | None, error: str = "") -> Document | None:
    """Keep the packet that went to the payer as a generated document, or say on the timeline why not."""
    if packet is not None:
        try:  # its own savepoint: a failed store leaves the caller's transaction usable
            document = document_store(
                case=case,
                actor=actor,
                kind=Document.Kind.SUBMISSION_PACKET,
                title=f"Submission packet as sent, {timezone.localdate():%m/%d/%Y} ({packet.page_count} pages)",
                content=packet.content,
                content_type="application/pdf",
                name="packet.pdf",
                message=f"Submission packet kept as sent ({_summary(packet)})",
                **_details(packet),
            )
            return document
        except Exception as exc:  # storage full, permissions …: the outcome stands
            log.error("keeping the submission packet of case %s failed: %s", case.pk, type(exc).__name__)
            error = f"it could not be stored ({type(exc).__name__})"
    case_event_add(
        case=case,
        kind=CaseEvent.Kind.SYSTEM,
        actor=actor,
        message=f"Error: the submission packet was not kept ({error.rstrip('.')}). The outcome is recorded; "
        "upload the copy that was sent to the payer.",
        packet_error=error,
    )
    return None


def appeal_letter_pdf(*, case: PriorAuthCase, text: str) -> bytes:
    """The appeal letter as staff edited it, on letter pages in the packet's font: to print, fax or upload.

    Only the text given (what is on the screen, not yet filed); filing keeps its own copy (cases.appeals).
    """
    pdf = _Pages(_font_paths())
    pdf.set_title(f"Appeal letter, case {case.pk}")
    pdf.add_page()
    pdf.para(text.strip() or " ", size=11)
    return bytes(pdf.output())
