"""Documents of a case: the one writer of a stored file and its timeline line, and staff uploads."""

from __future__ import annotations

import io

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from cases.models import CaseEvent, Document, PriorAuthCase, RequirementStatus
from cases.services import ActionRefused, case_event_add

# Uploads: the declared content type is the browser's guess; the first bytes
# decide. Only what a payer accepts in a packet.
_MAGIC = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
)
ALLOWED_UPLOAD_TYPES = frozenset(t for _, t, _ in _MAGIC)
_GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})


def sniff_content_type(head: bytes) -> tuple[str, str] | None:
    """(content type, extension) from a file's first bytes, or None if not PDF/PNG/JPEG."""
    for magic, content_type, ext in _MAGIC:
        if head.startswith(magic):
            return content_type, ext
    return None


class DocumentOverLimit(ActionRefused):
    """A PDF over the page or decoded-size limit (settings DOCUMENT_MAX_PAGES / _DECODED_BYTES)."""


def _inflated_size(stream, budget: int) -> int:
    """Bytes a content stream decodes to, inflating at most `budget` + 1 (a bomb stops there)."""
    import zlib

    filters = stream.get("/Filter")
    names = [str(f) for f in filters] if isinstance(filters, list) else [str(filters)] if filters else []
    raw = stream._data  # the stored (encoded) bytes; get_data() would inflate it all at once
    if not names:
        return len(raw)
    if names == ["/FlateDecode"] and not stream.get("/DecodeParms"):
        try:
            return len(zlib.decompressobj().decompress(raw, budget + 1))
        except zlib.error as exc:
            raise ValueError("damaged stream") from exc
    return len(stream.get_data())  # other filters (rare in page contents): pypdf decodes


def pdf_check_limits(data: bytes) -> int:
    """The page count of PDF `data`; DocumentOverLimit when it is over the page or decoded-size limit.

    Cheap first: the page tree's own /Count, then the real page list, then the
    page contents' decoded size counting each shared stream once (so a page
    repeated 100 000 times is refused on its count in well under a second,
    before anything copies it). ValueError when pypdf cannot read it at all.
    """
    from pypdf import PdfReader
    from pypdf.generic import ArrayObject

    max_pages, max_decoded = settings.DOCUMENT_MAX_PAGES, settings.DOCUMENT_MAX_DECODED_BYTES
    too_many = f"has more than {max_pages} pages: split it and upload the pages the payer needs."
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            return 0  # cannot be read without its password; the packet says so (packet_pdf)
        declared = reader.trailer["/Root"]["/Pages"].get("/Count", 0)
        if int(declared) > max_pages or len(reader.pages) > max_pages:
            raise DocumentOverLimit("The PDF " + too_many)
        decoded, seen = 0, set()
        for page in reader.pages:
            contents = page.get("/Contents")
            refs = contents if isinstance(contents, ArrayObject) else [contents] if contents is not None else []
            for ref in refs:
                key = getattr(ref, "idnum", None) or id(ref)
                if key in seen:
                    continue
                seen.add(key)
                decoded += _inflated_size(ref.get_object(), max_decoded - decoded)
                if decoded > max_decoded:
                    raise DocumentOverLimit(
                        f"The PDF's pages decode to more than {filesizeformat(max_decoded)}: "
                        "save a smaller copy (print to PDF) and upload that."
                    )
        return len(reader.pages)
    except DocumentOverLimit:
        raise
    except Exception as exc:  # a damaged file: pypdf raises many kinds
        raise ValueError("damaged PDF") from exc


def document_store(
    *,
    case: PriorAuthCase,
    actor,
    kind: str,
    title: str,
    content: bytes,
    content_type: str,
    name: str,
    message: str,
    source: str = Document.Source.GENERATED,
    requirement=None,
    **details,
) -> Document:
    """Keep `content` as a document of the case and put it on the timeline (the caller checked it).

    `name` only gives the stored file its extension: the stored name is the
    case id and a random token (see document_upload_to), never a title.
    """
    with transaction.atomic():
        doc = Document(
            case=case,
            kind=kind,
            title=title[:200],
            content_type=content_type,
            size_bytes=len(content),
            source=source,
            requirement=requirement,
            uploaded_by=actor,
        )
        doc.file.save(name, ContentFile(content), save=False)
        doc.save()
        case_event_add(
            case=case, kind=CaseEvent.Kind.DOCUMENT, actor=actor, message=message, document_id=doc.pk, **details
        )
    return doc


def document_upload(
    *, case: PriorAuthCase, actor, file, title: str = "", kind: str = "other", requirement_status=None
) -> Document:
    """Store an uploaded PDF / PNG / JPEG on the case.

    With `requirement_status` (an open gap of this case) the gap is met by the
    document. The stored name carries no patient data (see document_upload_to).
    """
    size = file.size
    if size == 0:
        raise ActionRefused("The file is empty.")
    if size > settings.DOCUMENT_MAX_BYTES:
        raise ActionRefused(f"The file is larger than {filesizeformat(settings.DOCUMENT_MAX_BYTES)}.")
    file.seek(0)
    head = file.read(16)
    file.seek(0)
    sniffed = sniff_content_type(head)
    if sniffed is None:
        raise ActionRefused("Only PDF, PNG and JPEG files can be uploaded.")
    content_type, ext = sniffed
    declared = (getattr(file, "content_type", "") or "").split(";")[0].strip().lower()
    if declared not in _GENERIC_TYPES and declared != content_type:
        raise ActionRefused("The file's content does not match its type.")
    if requirement_status is not None and requirement_status.case_id != case.pk:
        raise ActionRefused("That requirement belongs to another case.")
    content = file.read()
    if content_type == "application/pdf":
        try:
            pdf_check_limits(content)
        except ValueError:
            pass  # a damaged PDF is kept: the packet lists it as not included, with the reason
    title = (title.strip() or "Uploaded document")[:200]
    with transaction.atomic():
        # The original file name often names the patient: it is not kept.
        doc = document_store(
            case=case,
            actor=actor,
            kind=kind if kind in Document.Kind.values else Document.Kind.OTHER,
            title=title,
            content=content,
            content_type=content_type,
            name=f"upload{ext}",
            source=Document.Source.UPLOAD,
            message=f"Uploaded: {title}",
            requirement=requirement_status.requirement if requirement_status is not None else None,
        )
        if requirement_status is not None and requirement_status.state == RequirementStatus.State.GAP:
            requirement_status.state = RequirementStatus.State.MET
            requirement_status.resolved_by = actor
            requirement_status.evidence = [
                {"resource": f"Document/{doc.pk}", "date": timezone.localdate().isoformat(), "value": title}
            ]
            requirement_status.note = "Met by an uploaded document"
            requirement_status.save(update_fields=["state", "resolved_by", "evidence", "note", "updated_at"])
        # A document is evidence: the summary, the gap's task and the case's status follow it.
        from cases.readiness import case_reconcile

        case_reconcile(case=case, actor=actor)
    return doc
