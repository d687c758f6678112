"""CAQH CORE Connectivity, real time, over HTTP MIME multipart: the only code that talks to a clearinghouse.

Request fields (CORE Connectivity Rule vC2.2.0, HTTP+MIME): PayloadType,
ProcessingMode (RealTime), PayloadID (a UUID), TimeStamp (UTC, ISO 8601),
SenderID, ReceiverID, CORERuleVersion, Payload, and for basic authentication
UserName and Password; a client-certificate clearinghouse authenticates the TLS
connection instead. The answer is the same envelope with ErrorCode and
ErrorMessage. The SOAP+WSDL envelope (the rule's other option) is not sent:
every clearinghouse must offer both, so one is enough for a client.

Errors: timeouts, connection errors, HTTP 429/5xx and the CORE "busy" codes are
transient (retried with backoff); HTTP 401/403 and CORE UnAuthorized, a
malformed-envelope code or a PayloadType the receiver does not take are
permanent (the settings or our request are wrong: a person fixes them).
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import os
import tempfile
import uuid
from dataclasses import dataclass

import requests
from django.conf import settings
from django.utils import timezone

from integrations.base import IntegrationError, PayerResponseUnreadable

CORE_RULE_VERSION = "2.2.0"
PAYLOAD_TYPES = {
    "278": "X12_278_Request_005010X217E1_2",
    "278i": "X12_278_Request_005010X215E1_2",  # the inquiry guide (X215)
    "270": "X12_270_Request_005010X279A1",
}
RESPONSE_TYPES = {
    "278": "X12_278_Response_005010X217E1_2",
    "278i": "X12_278_Response_005010X215E1_2",
    "270": "X12_271_Response_005010X279A1",
}
# CORE envelope error codes that say "try later"; every other code but Success is permanent.
TRANSIENT_CORE_CODES = {"ReceiverServerBusy", "ServerBusy", "Busy", "Timeout", "ReceiverUnavailable"}


@dataclass(frozen=True)
class CoreAnswer:
    payload_type: str
    payload_id: str
    payload: str
    error_code: str
    error_message: str
    http_status: int


class CoreError(IntegrationError):
    def __init__(self, message: str, *, permanent: bool, code: str = ""):
        super().__init__(message, permanent=permanent)
        self.code = code


def new_payload_id() -> str:
    return str(uuid.uuid1())  # the rule asks for a UUID made from time and node


def core_fields(
    *,
    payload_type: str,
    payload_id: str,
    sender_id: str,
    receiver_id: str,
    payload: str,
    username: str = "",
    password: str = "",
) -> dict[str, str]:
    fields = {
        "PayloadType": payload_type,
        "ProcessingMode": "RealTime",
        "PayloadID": payload_id,
        "TimeStamp": timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "SenderID": sender_id,
        "ReceiverID": receiver_id,
        "CORERuleVersion": CORE_RULE_VERSION,
    }
    if username:
        fields["UserName"] = username
        fields["Password"] = password
    fields["Payload"] = payload
    return fields


def read_multipart(body: bytes, content_type: str) -> dict[str, str]:
    """The named parts of a multipart/form-data body (what a CORE envelope is)."""
    if "multipart/" not in (content_type or ""):
        raise ValueError(f"not multipart ({content_type or 'no content type'})")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    if not message.is_multipart():
        raise ValueError("multipart body without parts")
    parts = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            raw = part.get_payload(decode=True) or b""
            parts[str(name)] = raw.decode("utf-8", "replace").replace("\r\n", "\n").rstrip("\n")
    return parts


def send(clearinghouse, *, kind: str, payload: str, payload_id: str) -> CoreAnswer:
    """POST one CORE real-time envelope and return the clearinghouse's answer. Raises `IntegrationError`."""
    username = password = ""
    if clearinghouse.auth == clearinghouse.Auth.BASIC:
        username, password = clearinghouse.username, clearinghouse.password()
        if not username or not password:
            raise CoreError(f"{clearinghouse} has no user name or password: set them in admin.", permanent=True)
    fields = core_fields(
        payload_type=PAYLOAD_TYPES[kind],
        payload_id=payload_id,
        sender_id=clearinghouse.sender_id,
        receiver_id=clearinghouse.receiver_id,
        payload=payload,
        username=username,
        password=password,
    )
    files = {name: (None, value) for name, value in fields.items()}
    timeout = (settings.X12_CONNECT_TIMEOUT_SECONDS, settings.X12_READ_TIMEOUT_SECONDS)
    with client_cert_file(clearinghouse) as cert:
        try:
            response = requests.post(clearinghouse.endpoint_url, files=files, timeout=timeout, cert=cert)
        except requests.Timeout:
            raise CoreError(f"{clearinghouse} did not answer in time", permanent=False) from None
        except requests.RequestException as exc:
            raise CoreError(f"cannot reach {clearinghouse} ({type(exc).__name__})", permanent=False) from None
    status = response.status_code
    if status in (401, 403):
        raise CoreError(
            f"{clearinghouse} refused our credentials (HTTP {status}): check the user name, password or "
            "certificate in admin.",
            permanent=True,
            code="UnAuthorized",
        )
    if status == 429 or status >= 500:
        raise CoreError(f"{clearinghouse} answered HTTP {status}", permanent=False)
    try:
        parts = read_multipart(response.content, response.headers.get("Content-Type", ""))
    except ValueError as exc:
        raise PayerResponseUnreadable(f"{clearinghouse} answered without a CORE envelope ({exc})") from None
    code = parts.get("ErrorCode", "")
    said = parts.get("ErrorMessage", "")
    if code and code != "Success":
        permanent = code not in TRANSIENT_CORE_CODES
        raise CoreError(
            f"{clearinghouse} refused the envelope: CORE {code}{': ' + said if said else ''}",
            permanent=permanent,
            code=code,
        )
    if status >= 400:
        raise CoreError(f"{clearinghouse} answered HTTP {status}: {said or 'no reason given'}", permanent=True)
    if not parts.get("Payload"):
        raise PayerResponseUnreadable(f"{clearinghouse} answered a CORE envelope without a payload")
    if parts.get("PayloadID") and parts.get("PayloadID") != payload_id:
        raise PayerResponseUnreadable(
            f"{clearinghouse} answered PayloadID {parts.get('PayloadID')}, not ours ({payload_id})"
        )
    return CoreAnswer(
        payload_type=parts.get("PayloadType", ""),
        payload_id=parts.get("PayloadID", ""),
        payload=parts["Payload"],
        error_code=code or "Success",
        error_message=said,
        http_status=status,
    )


@contextlib.contextmanager
def client_cert_file(clearinghouse):
    """requests needs the client certificate and key as one file: written (mode 600) for the call, removed after."""
    ch = clearinghouse
    if ch.auth != ch.Auth.CERTIFICATE:
        yield None
        return
    key = ch.client_key()
    if not ch.client_certificate_pem or not key:
        raise CoreError(f"{ch} uses a client certificate but none is stored: set it in admin.", permanent=True)
    fd, path = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(ch.client_certificate_pem.strip() + "\n" + key.strip() + "\n")
        yield path
    finally:
        os.unlink(path)
