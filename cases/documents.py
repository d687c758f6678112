"""Documents of a case: the one writer of a stored file and its timeline line, and staff uploads."""

from __future__ import annotations

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
    title = (title.strip() or "Uploaded document")[:200]
    with transaction.atomic():
        # The original file name often names the patient: it is not kept.
        doc = document_store(
            case=case,
            actor=actor,
            kind=kind if kind in Document.Kind.values else Document.Kind.OTHER,
            title=title,
            content=file.read(),
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
