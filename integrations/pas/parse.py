"""Read a payer's ClaimResponse bundle into a `PayerDecision`.

Two layouts are found in the wild:

- **PAS 2.x** (the IG's profiles, `ClaimResponse.fsh` of IG 2.2.1): the
  decision is per item, in `ClaimResponse.item.adjudication.extension[reviewAction]`
  (also on `addItem`, and on the header `ClaimResponse.adjudication`), a
  complex extension whose `code` slice is a *defined* extension, so on the
  wire its url is the canonical `…/extension-reviewActionCode` (an X12 306
  code); `number` (the authorization number) and `reasonCode` (X12 278
  review decision reason, code list 886) are plain slices with bare urls.
  The item carries `extension-itemPreAuthPeriod` and
  `extension-itemAuthorizedDetail` (its `quantity` slice: approved units).
  What the payer asks for comes as `CommunicationRequest` (payload a LOINC
  attachment code) or a PAS `Task` (input `attachments-needed`). An
  `$inquire` answer may be a `Parameters` with `responseBundle`.
  `outcome = queued` with no review action yet means "received, no decision".
- **The older reference implementation** (HL7-DaVinci/prior-auth): one
  `ClaimResponse.extension[reviewAction]` as a string or code, `preAuthRef`,
  `disposition`, and `outcome = queued` for a pended request.

Anything else (not a Bundle, no ClaimResponse, a reference that does not
resolve, a field of the wrong type, an unknown code) raises `PasResponseError`
before anything is applied, so a malformed answer changes no case.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from integrations.base import DecisionStatus, ItemDecision, PayerDecision, PayerResponseUnreadable
from integrations.fhir_json import outcome_text

PAS = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
REVIEW_ACTION = PAS + "extension-reviewAction"
# The reviewAction's `code` slice is the defined extension ReviewActionCode: on the wire
# its url is this canonical URL, not the slice name.
REVIEW_ACTION_CODE = PAS + "extension-reviewActionCode"
AUTHORIZATION_NUMBER = PAS + "extension-authorizationNumber"
ITEM_AUTHORIZED_PROVIDER = PAS + "extension-itemAuthorizedProvider"
PROVIDER_TYPE = PAS + "extension-authorizedProviderType"  # defined sub-extension: canonical url
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
X12_98 = "https://codesystem.x12.org/005010/98"  # entity identifier codes
X12_755 = "https://codesystem.x12.org/005010/755"  # attachment report type codes
# LOINC attachment codes a payer may ask for, named for staff (others are shown by code).
ATTACHMENT_LOINC = {
    "11488-4": "Consult note",
    "11502-2": "Laboratory report",
    "11506-3": "Progress note",
    "11508-9": "Physical therapy progress note",
    "18748-4": "Diagnostic imaging study",
    "18776-5": "Plan of care note",
    "28570-0": "Procedure note",
    "34117-2": "History and physical note",
}
X12_886 = "https://codesystem.x12.org/external/886"  # X12 278 review decision reason codes
REVIEW_ACTION_REASON = PAS + "extension-reviewActionReason"
ITEM_PERIOD = PAS + "extension-itemPreAuthPeriod"
ITEM_AUTHORIZED_DETAIL = PAS + "extension-itemAuthorizedDetail"
AUTHORIZED_EVENT_DATE = PAS + "extension-authorizedEventDate"
X12_306 = "https://codesystem.x12.org/005010/306"
_LOINC = re.compile(r"\d{1,7}-\d")

S = DecisionStatus
REVIEW_ACTION_CODES: dict[str, DecisionStatus] = {
    "A1": S.APPROVED,  # certified in total
    "A2": S.PARTIALLY_APPROVED,  # certified, partial
    "A3": S.DENIED,  # not certified
    "A4": S.PENDED,  # pended
    "A6": S.PARTIALLY_APPROVED,  # modified
    "C": S.CANCELLED,  # cancelled
    "CT": S.CONTACT_PAYER,  # contact payer
    "NA": S.NOT_REQUIRED,  # no action required
}


class PasResponseError(PayerResponseUnreadable):
    """The payer's answer is not a ClaimResponse bundle we can read. Nothing was applied."""

    def __init__(self, message: str):
        super().__init__(f"Unreadable ClaimResponse: {message}")


# --- small typed readers: each raises PasResponseError naming the path -------------------------


def _obj(node, path: str) -> dict:
    if not isinstance(node, dict):
        raise PasResponseError(f"{path} must be an object, got {type(node).__name__}")
    return node


def _list(parent: dict, name: str, path: str) -> list:
    value = parent.get(name, [])
    if not isinstance(value, list):
        raise PasResponseError(f"{path}.{name} must be a list, got {type(value).__name__}")
    return value


def _str(parent: dict, name: str, path: str) -> str:
    value = parent.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PasResponseError(f"{path}.{name} must be a string, got {type(value).__name__}")
    return value


def _date(value, path: str) -> date | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise PasResponseError(f"{path} must be a date string")
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise PasResponseError(f"{path} is not a date: {value[:40]!r}") from None


def _instant(value, path: str) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise PasResponseError(f"{path} must be a dateTime string")
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PasResponseError(f"{path} is not a dateTime: {value[:40]!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _period(node, path: str) -> tuple[date | None, date | None]:
    if node is None:
        return None, None
    node = _obj(node, path)
    return _date(node.get("start"), f"{path}.start"), _date(node.get("end"), f"{path}.end")


def _extensions(parent: dict, url: str, path: str) -> list[dict]:
    found = []
    for i, ext in enumerate(_list(parent, "extension", path)):
        ext = _obj(ext, f"{path}.extension[{i}]")
        if ext.get("url") == url:
            found.append(ext)
    return found


def _sub(ext: dict, name: str, path: str) -> dict | None:
    for i, sub in enumerate(_list(ext, "extension", path)):
        sub = _obj(sub, f"{path}.extension[{i}]")
        if sub.get("url") == name:
            return sub
    return None


def _concept_code(concept, path: str) -> tuple[str, str, str]:
    """(system, code, text) of the first coding of a CodeableConcept."""
    concept = _obj(concept, path)
    codings = _list(concept, "coding", path)
    text = _str(concept, "text", path)
    if not codings:
        return "", "", text
    coding = _obj(codings[0], f"{path}.coding[0]")
    return (
        _str(coding, "system", f"{path}.coding[0]"),
        _str(coding, "code", f"{path}.coding[0]"),
        text or _str(coding, "display", f"{path}.coding[0]"),
    )


def _review_status(code: str, path: str) -> DecisionStatus:
    try:
        return REVIEW_ACTION_CODES[code.strip().upper()]
    except KeyError:
        raise PasResponseError(f"{path}: unknown X12 306 review action code {code[:10]!r}") from None


# --- the bundle ---------------------------------------------------------------------------------


def _index(entries: list[dict]) -> set[str]:
    """Every way an entry can be referenced: its fullUrl, Type/id, and the fullUrl's Type/id tail."""
    keys = set()
    for entry in entries:
        resource = entry.get("resource") or {}
        full_url = entry.get("fullUrl") or ""
        if isinstance(full_url, str) and full_url:
            keys.add(full_url)
            parts = full_url.rstrip("/").split("/")
            if len(parts) >= 2:
                keys.add("/".join(parts[-2:]))
        if resource.get("id"):
            keys.add(f"{resource.get('resourceType')}/{resource['id']}")
    return keys


def _require_reference(parent: dict, name: str, path: str, index: set[str]) -> None:
    node = parent.get(name)
    if node is None:
        raise PasResponseError(f"{path}.{name} is missing")
    ref = _str(_obj(node, f"{path}.{name}"), "reference", f"{path}.{name}")
    if ref and ref not in index:
        raise PasResponseError(f"{path}.{name} refers to {ref[:80]!r}, which is not in the bundle")


def response_bundle(body) -> dict:
    """The Bundle in a payer's answer: the body itself, or the `responseBundle` of an
    `$inquire` answered as `Parameters` (the IG's PASClaimInquiryOperationResponseExample)."""
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        for i, param in enumerate(_list(body, "parameter", "Parameters")):
            param = _obj(param, f"Parameters.parameter[{i}]")
            if param.get("name") == "responseBundle":
                return _obj(param.get("resource"), f"Parameters.parameter[{i}].resource")
        raise PasResponseError("the Parameters answer has no responseBundle")
    return body


def has_claim_response(body) -> bool:
    """Whether an answer carries any ClaimResponse (an inquiry about a request the payer does not know has none)."""
    try:
        bundle = response_bundle(body)
    except PasResponseError:
        return True  # let the parser say what is wrong
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return True
    entries = bundle.get("entry") or []
    return any(
        isinstance(e, dict) and (e.get("resource") or {}).get("resourceType") == "ClaimResponse" for e in entries
    )


def parse_claim_response(bundle: dict) -> PayerDecision:
    """The payer's decision in a PAS response (or $inquire) bundle. Raises PasResponseError."""
    bundle = _obj(response_bundle(_obj(bundle, "response")), "response")
    rtype = bundle.get("resourceType")
    if rtype == "OperationOutcome":
        raise PasResponseError("the payer answered with an OperationOutcome: " + outcome_text(bundle, limit=300))
    if rtype != "Bundle":
        raise PasResponseError(f"expected a Bundle, got resourceType={str(rtype)[:40]!r}")
    entries = [_obj(e, f"Bundle.entry[{i}]") for i, e in enumerate(_list(bundle, "entry", "Bundle"))]
    for i, entry in enumerate(entries):
        if "resource" in entry:
            _obj(entry["resource"], f"Bundle.entry[{i}].resource")
    responses = [e["resource"] for e in entries if (e.get("resource") or {}).get("resourceType") == "ClaimResponse"]
    if not responses:
        raise PasResponseError("the Bundle contains no ClaimResponse")
    # The PAS response bundle puts the ClaimResponse first; an $inquire may return
    # several versions, newest first.
    cr = responses[0]
    path = "ClaimResponse"
    index = _index(entries)
    outcome = _str(cr, "outcome", path)
    created = _instant(cr.get("created"), f"{path}.created")
    info = tuple(_info_requests(cr, entries, path))
    tracking = _tracking_id(cr, path)

    if outcome == "error":
        errors = []
        for i, err in enumerate(_list(cr, "error", path)):
            err = _obj(err, f"{path}.error[{i}]")
            errors.append(" ".join(filter(None, _concept_code(err.get("code") or {}, f"{path}.error[{i}].code")[1:])))
        return PayerDecision(
            status=S.ERROR,
            reason_text="; ".join(errors) or _str(cr, "disposition", path),
            payer_tracking_id=tracking,
            decided_at=created,
            shape="pas",
        )

    items = _item_decisions(cr, path)
    profiles = _list(_obj(cr.get("meta") or {}, f"{path}.meta"), "profile", f"{path}.meta")
    is_pas2 = bool(items) or any(isinstance(p, str) and "davinci-pas" in p for p in profiles)
    if is_pas2:
        # PAS bundles must carry the patient and insurer they reference.
        _require_reference(cr, "patient", path, index)
        if (cr.get("insurer") or {}).get("reference"):
            _require_reference(cr, "insurer", path, index)
        return _pas2_decision(cr, items, outcome, created, info, tracking, path)
    return _ri_decision(cr, outcome, created, info, tracking, path)


def _item_decisions(cr: dict, path: str) -> list[ItemDecision]:
    """One decision per item (and per payer-added `addItem`) that carries a review action.
    A header-level `ClaimResponse.adjudication` review action counts for the whole
    request when no line has one of its own."""
    decisions = []
    lines = [(f"{path}.item[{i}]", item) for i, item in enumerate(_list(cr, "item", path))]
    lines += [(f"{path}.addItem[{i}]", item) for i, item in enumerate(_list(cr, "addItem", path))]
    for i, (ipath, item) in enumerate(lines):
        item = _obj(item, ipath)
        sequence = item.get("itemSequence", i + 1)
        if isinstance(sequence, list):  # addItem.itemSequence is 0..*: the first item it answers
            sequence = sequence[0] if sequence else i + 1
        if not isinstance(sequence, int) or isinstance(sequence, bool):
            raise PasResponseError(f"{ipath}.itemSequence must be an integer")
        action = None
        for j, adj in enumerate(_list(item, "adjudication", ipath)):
            adj = _obj(adj, f"{ipath}.adjudication[{j}]")
            found = _extensions(adj, REVIEW_ACTION, f"{ipath}.adjudication[{j}]")
            if found:
                action = (found[0], f"{ipath}.adjudication[{j}].extension[reviewAction]")
                break
        if action is None:
            continue  # no decision on this line yet
        number_ext = _extensions(item, AUTHORIZATION_NUMBER, ipath)
        ext, epath = action
        code, reason_code, number = _pas2_review_action(ext, epath)
        if not number and number_ext:
            number = _str(number_ext[0], "valueString", f"{ipath}.extension[authorizationNumber]")
        start, end = None, None
        for period_ext in _extensions(item, ITEM_PERIOD, ipath):
            start, end = _period(period_ext.get("valuePeriod"), f"{ipath}.extension[itemPreAuthPeriod].valuePeriod")
        units = None
        for detail in _extensions(item, ITEM_AUTHORIZED_DETAIL, ipath):
            quantity = _sub(detail, "quantity", f"{ipath}.extension[itemAuthorizedDetail]")
            if quantity is not None:
                value = _obj(quantity.get("valueQuantity"), f"{ipath}.itemAuthorizedDetail.quantity").get("value")
                if not isinstance(value, (int, float)) or isinstance(value, bool):
                    raise PasResponseError(f"{ipath}.itemAuthorizedDetail.quantity.value must be a number")
                units = float(value)
        decisions.append(
            ItemDecision(
                sequence=sequence,
                status=_review_status(code, epath),
                review_action_code=code,
                authorization_number=number,
                effective_start=start,
                effective_end=end,
                units_approved=units,
                reason_code=reason_code,
            )
        )
    if not decisions:
        for j, adj in enumerate(_list(cr, "adjudication", path)):
            adj = _obj(adj, f"{path}.adjudication[{j}]")
            found = _extensions(adj, REVIEW_ACTION, f"{path}.adjudication[{j}]")
            if found:
                epath = f"{path}.adjudication[{j}].extension[reviewAction]"
                code, reason_code, number = _pas2_review_action(found[0], epath)
                decisions.append(
                    ItemDecision(
                        sequence=0,
                        status=_review_status(code, epath),
                        review_action_code=code,
                        authorization_number=number,
                        reason_code=reason_code,
                    )
                )
                break
    return decisions


def _pas2_review_action(ext: dict, path: str) -> tuple[str, str, str]:
    """(review action code, reason code, number) from the complex reviewAction extension."""
    code = ""
    sub = _sub(ext, REVIEW_ACTION_CODE, path)
    if sub is not None:
        system, code, _ = _concept_code(sub.get("valueCodeableConcept") or {}, f"{path}.code")
        if system and system != X12_306:
            raise PasResponseError(f"{path}.code has system {system[:60]!r}, expected X12 306")
    else:
        for bare in ("reviewActionCode", "code"):
            if _sub(ext, bare, path) is not None:
                # Neither the IG (canonical url) nor the reference implementation (a flat value).
                raise PasResponseError(
                    f"{path} names its code sub-extension {bare!r}; the IG's is {REVIEW_ACTION_CODE}"
                )
    if not code:
        raise PasResponseError(f"{path} has no code (extension-reviewActionCode)")
    reason_code = ""
    for reason in _list(ext, "extension", path):
        if isinstance(reason, dict) and reason.get("url") == "reasonCode":  # 0..*: the first one is kept
            _, reason_code, _ = _concept_code(reason.get("valueCodeableConcept") or {}, f"{path}.reasonCode")
            break
    number = _sub(ext, "number", path)
    return code, reason_code, (_str(number, "valueString", f"{path}.number") if number else "")


def _combine(statuses: list[DecisionStatus]) -> DecisionStatus:
    """One status for the request from its lines: anything still open wins, else the mix."""
    distinct = set(statuses)
    for open_status in (S.PENDED, S.CONTACT_PAYER):
        if open_status in distinct:
            return open_status
    if len(distinct) == 1:
        return statuses[0]
    if distinct & {S.APPROVED, S.PARTIALLY_APPROVED}:
        return S.PARTIALLY_APPROVED
    return S.DENIED if S.DENIED in distinct else S.CANCELLED


def _pas2_decision(cr, items, outcome, created, info, tracking, path) -> PayerDecision:
    if not items:
        if outcome not in ("queued", "partial", ""):
            raise PasResponseError(f"{path}.outcome is {outcome!r} but no item carries a review action")
        return PayerDecision(
            status=S.STILL_PENDING, payer_tracking_id=tracking, decided_at=created, info_requested=info, shape="pas-2"
        )
    status = _combine([i.status for i in items])
    start, end = _period(cr.get("preAuthPeriod"), f"{path}.preAuthPeriod")
    granted = [i for i in items if i.status in (S.APPROVED, S.PARTIALLY_APPROVED)]
    starts = [i.effective_start for i in granted if i.effective_start]
    ends = [i.effective_end for i in granted if i.effective_end]
    units = [i.units_approved for i in granted if i.units_approved is not None]
    header_number = next(
        (
            _str(e, "valueString", f"{path}.extension[authorizationNumber]")
            for e in _extensions(cr, AUTHORIZATION_NUMBER, path)
        ),
        "",
    )
    number = _str(cr, "preAuthRef", path) or header_number or next((i.authorization_number for i in granted), "")
    reason_code = next((i.reason_code for i in items if i.status in (S.DENIED, S.PENDED) and i.reason_code), "")
    first_code = next((i.review_action_code for i in items if i.status == status), items[0].review_action_code)
    return PayerDecision(
        status=status,
        authorization_number=number if granted else "",
        effective_start=start or (min(starts) if starts else None),
        effective_end=end or (max(ends) if ends else None),
        units_approved=sum(units) if units else None,
        items=tuple(items),
        reason_code=reason_code,
        reason_text=_reason_text(cr, path),
        info_requested=info,
        payer_tracking_id=tracking,
        review_action_code=first_code,
        decided_at=created,
        shape="pas-2",
    )


def _ri_decision(cr, outcome, created, info, tracking, path) -> PayerDecision:
    code = ""
    actions = _extensions(cr, REVIEW_ACTION, path)
    if actions:
        ext = actions[0]
        if "valueString" in ext:
            code = _str(ext, "valueString", f"{path}.extension[reviewAction]")
        elif "valueCode" in ext:
            code = _str(ext, "valueCode", f"{path}.extension[reviewAction]")
        elif "valueCodeableConcept" in ext:
            _, code, _ = _concept_code(ext["valueCodeableConcept"], f"{path}.extension[reviewAction]")
        else:
            code, _, _ = _pas2_review_action(ext, f"{path}.extension[reviewAction]")
    if code:
        status = _review_status(code, f"{path}.extension[reviewAction]")
    elif outcome == "queued":
        # The reference implementation answers a pended request with outcome=queued.
        status = S.PENDED
    else:
        raise PasResponseError(f"{path} has no review action and outcome {outcome!r}")
    reason_code = ""
    for ext in _extensions(cr, REVIEW_ACTION_REASON, path):
        reason_code = _str(ext, "valueString", f"{path}.extension[reviewActionReason]") or _str(
            ext, "valueCode", f"{path}.extension[reviewActionReason]"
        )
    start, end = _period(cr.get("preAuthPeriod"), f"{path}.preAuthPeriod")
    for ext in _extensions(cr, AUTHORIZED_EVENT_DATE, path):
        start, end = _period(ext.get("valuePeriod"), f"{path}.extension[authorizedEventDate].valuePeriod")
    granted = status in (S.APPROVED, S.PARTIALLY_APPROVED)
    number = _str(cr, "preAuthRef", path) or _first_identifier(cr, path)
    disposition = _str(cr, "disposition", path)
    if status == S.PENDED and not info and disposition:
        info = (disposition,)
    return PayerDecision(
        status=status,
        authorization_number=number if granted else "",
        effective_start=start,
        effective_end=end,
        reason_code=reason_code if status in (S.DENIED, S.PENDED) else "",
        reason_text=_reason_text(cr, path),
        info_requested=info,
        payer_tracking_id=tracking,
        review_action_code=code.upper(),
        decided_at=created,
        shape="pas-ri",
    )


def _first_identifier(cr: dict, path: str) -> str:
    for i, ident in enumerate(_list(cr, "identifier", path)):
        value = _str(_obj(ident, f"{path}.identifier[{i}]"), "value", f"{path}.identifier[{i}]")
        if value:
            return value
    return ""


def _tracking_id(cr: dict, path: str) -> str:
    return _first_identifier(cr, path) or _str(cr, "preAuthRef", path) or _str(cr, "id", path)


def _reason_text(cr: dict, path: str) -> str:
    notes = []
    for i, note in enumerate(_list(cr, "processNote", path)):
        text = _str(_obj(note, f"{path}.processNote[{i}]"), "text", f"{path}.processNote[{i}]")
        if text:
            notes.append(text)
    return " ".join(notes) or _str(cr, "disposition", path)


def _info_requests(cr: dict, entries: list[dict], path: str) -> list[str]:
    """What the payer asks for, in words staff can act on.

    PAS 2.x: `CommunicationRequest`s named by `ClaimResponse.communicationRequest`
    (else every one in the bundle), whose payload is a LOINC attachment code
    (`18776-5`) or free text, with the X12 755 category, the service line and the
    diagnosis it concerns; and PAS `Task`s whose `attachments-needed` inputs name
    LOINC codes. The reference implementation's free-text payloads read the same way.
    """
    asked = []
    by_ref = {}
    tasks = []
    for e in entries:
        r = e.get("resource") or {}
        if r.get("resourceType") == "CommunicationRequest":
            by_ref[e.get("fullUrl")] = r
            by_ref[f"CommunicationRequest/{r.get('id')}"] = r
        elif r.get("resourceType") == "Task":
            tasks.append(r)
    refs = [
        _str(_obj(r, f"{path}.communicationRequest"), "reference", path)
        for r in _list(cr, "communicationRequest", path)
    ]
    requests = [by_ref[ref] for ref in refs if ref in by_ref] or list({id(r): r for r in by_ref.values()}.values())
    for req in requests:
        req = _obj(req, "CommunicationRequest")
        context = []
        category = req.get("category")
        if isinstance(category, list):  # R4: 0..*; the PAS profile allows one
            category = category[0] if category else None
        if category:
            _, code, text = _concept_code(category, "CommunicationRequest.category")
            context.append(text or f"X12 755 code {code}")
        for ext in _extensions(req, PAS + "extension-serviceLineNumber", "CommunicationRequest"):
            context.append(f"service line {ext.get('valuePositiveInt')}")
        for i, payload in enumerate(_list(req, "payload", "CommunicationRequest")):
            ppath = f"CommunicationRequest.payload[{i}]"
            payload = _obj(payload, ppath)
            text = _str(payload, "contentString", ppath)
            if not text:
                continue
            about = list(context)
            for ext in _extensions(payload, PAS + "extension-communicatedDiagnosis", ppath):
                _, dx, _ = _concept_code(ext.get("valueCodeableConcept") or {}, f"{ppath}.communicatedDiagnosis")
                about.append(f"diagnosis {dx}")
            if _LOINC.fullmatch(text):
                text = f"{ATTACHMENT_LOINC.get(text, 'Attachment')} (LOINC {text})"
            asked.append(text + (f" ({'; '.join(about)})" if about else ""))
    for t, task in enumerate(tasks):
        for i, inp in enumerate(_list(task, "input", f"Task[{t}]")):
            inp = _obj(inp, f"Task[{t}].input[{i}]")
            _, kind, _ = _concept_code(inp.get("type") or {}, f"Task[{t}].input[{i}].type")
            if kind == "attachments-needed" and inp.get("valueCodeableConcept"):
                _, code, text = _concept_code(inp["valueCodeableConcept"], f"Task[{t}].input[{i}]")
                line = [
                    f"service line {e.get('valuePositiveInt')}"
                    for e in _extensions(inp, PAS + "extension-serviceLineNumber", f"Task[{t}].input[{i}]")
                ]
                name = text or ATTACHMENT_LOINC.get(code, "Attachment")
                asked.append(f"{name} (LOINC {code})" + (f" ({line[0]})" if line else ""))
            elif kind == "questionnaire-context" and inp.get("valueString"):
                asked.append(f"Questionnaire: {_str(inp, 'valueString', f'Task[{t}].input[{i}]')}")
    return asked
