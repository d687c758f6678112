"""The simulated payers: one book of the requests each has, answered per its profile.

It stands where a payer's API would be. The book lives in the simulation's process; the `sim` channel
(integrations/simulation) reaches it from the submission engine's tasks — over loopback HTTP when those
tasks run on real cluster workers (`serve` below), directly when they run inline — and by hand the staff
model "phones" it. Each request's outcome and turnaround are drawn once, on receipt, from a generator
seeded by (run seed, the order's place in the run, how many requests the case has sent before), so a seed
replays whatever order the workers happen to deliver requests in, and both modes of a seed (automated and
by hand) get the same draw for the same request.
"""

from __future__ import annotations

import json
import math
import random
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from integrations.base import DecisionStatus, IntegrationError, PayerDecision

from . import profiles

DENIAL = ("Medical necessity not established from the documentation received", "MN01")


@dataclass
class Request:
    key: str
    case_id: int
    payer: str
    received_at: datetime
    ready_at: datetime
    outcome: str
    stalled: bool
    update: bool
    called: bool = False  # somebody phoned about it while it stalled


@dataclass
class PayerBook:
    seed: int
    by_name: dict = field(default_factory=dict)
    requests: dict = field(default_factory=dict)
    start: datetime | None = None
    case_index: dict = field(default_factory=dict)  # case id -> the order's place in the run (engine)
    missing: dict = field(default_factory=dict)  # case id -> items its chart lacks (engine)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def profile(self, payer_name: str) -> profiles.PayerProfile:
        return self.by_name[payer_name]

    def receive(self, *, key: str, case_id: int, payer_name: str, now: datetime, update: bool, urgent: bool):
        """A request (or an update answering a pend) reaches the payer: draw its answer and when."""
        with self.lock:
            if key in self.requests:
                return self.requests[key]  # the same request again (a retry): nothing new drawn
            p = self.profile(payer_name)
            earlier = sum(1 for r in self.requests.values() if r.case_id == case_id)
            rng = random.Random(f"{self.seed}:{self.case_index.get(case_id, case_id)}:{earlier}")
            missing = self.missing.get(case_id, 0)
            draw = rng.random()
            if update:
                outcome = "approved" if draw < (0.85 if missing == 0 else 0.5) else "denied"
            elif missing == 0:
                outcome = (
                    "approved"
                    if draw < p.approve_complete
                    else "pended"
                    if draw < p.approve_complete + p.pend_complete
                    else "denied"
                )
            else:
                outcome = (
                    "approved"
                    if draw < p.approve_incomplete
                    else "pended"
                    if draw < p.approve_incomplete + p.pend_incomplete
                    else "denied"
                )
            median = p.median_hours / (3 if urgent else 1) / (1.5 if update else 1)
            hours = median * math.exp(rng.gauss(0, 0.5))
            stalled = rng.random() < p.stall_rate
            if stalled:
                hours = 24 * 20  # sits on it until somebody calls
            request = Request(key, case_id, payer_name, now, now + timedelta(hours=hours), outcome, stalled, update)
            self.requests[key] = request
            return request

    def outage(self, payer_name: str, now: datetime) -> bool:
        profile = self.by_name.get(payer_name)
        day = (now - self.start).days
        return profile is not None and day in profile.outage_days and 9 <= now.hour < 13

    def call(self, key: str, now: datetime) -> None:
        """Somebody phoned about the request: a stalled one is decided within a day."""
        with self.lock:
            request = self.requests.get(key)
            if request and request.stalled and now < request.ready_at:
                request.called = True
                request.ready_at = min(request.ready_at, now + timedelta(hours=profiles.STALL_NUDGE_HOURS))

    def answer(self, *, key: str, payer_name: str, now: datetime, via_api: bool) -> PayerDecision | None:
        if payer_name not in self.by_name:
            return None  # a payer of an earlier run: it does not know the request
        if via_api and self.outage(payer_name, now):
            raise IntegrationError("Simulated payer outage: HTTP 503")
        with self.lock:
            request = self.requests.get(key)
        return None if request is None else decision_of(request, now)


def decision_of(request: Request, now: datetime) -> PayerDecision:
    """What the payer says about a request at `now`."""
    key = request.key
    if now < request.ready_at:
        return PayerDecision(status=DecisionStatus.STILL_PENDING, payer_tracking_id=key, shape="sim")
    day = request.ready_at.date()
    if request.outcome == "approved":
        return PayerDecision(
            status=DecisionStatus.APPROVED,
            authorization_number=f"SIM{request.case_id:07d}{'U' if request.update else ''}",
            effective_start=day,
            effective_end=day + timedelta(days=90),
            payer_tracking_id=key,
            decided_at=request.ready_at,
            shape="sim",
        )
    if request.outcome == "pended":
        return PayerDecision(
            status=DecisionStatus.PENDED,
            info_requested=("Additional clinical documentation supporting medical necessity",),
            payer_tracking_id=key,
            decided_at=request.ready_at,
            shape="sim",
        )
    return PayerDecision(
        status=DecisionStatus.DENIED,
        reason_text=DENIAL[0],
        reason_code=DENIAL[1],
        payer_tracking_id=key,
        decided_at=request.ready_at,
        shape="sim",
    )


# --- the book over loopback HTTP, for the cluster's worker processes ---------------------------------------


def _request_json(request: Request) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(request).items()}


def _request_from(data: dict) -> Request:
    for k in ("received_at", "ready_at"):
        data[k] = datetime.fromisoformat(data[k])
    return Request(**data)


class _Handler(BaseHTTPRequestHandler):
    book: PayerBook  # set on the class made per server
    # Headers and body go out in two writes: without TCP_NODELAY the second waits for the client's delayed
    # ACK (~40 ms a call, most of a run's time).
    disable_nagle_algorithm = True

    def log_message(self, *args):  # no access log: the run's figures are its record
        return

    def do_POST(self):
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            now = datetime.fromisoformat(body["now"])
            if self.path == "/receive":
                request = self.book.receive(
                    key=body["key"],
                    case_id=int(body["case_id"]),
                    payer_name=body["payer_name"],
                    now=now,
                    update=bool(body["update"]),
                    urgent=bool(body["urgent"]),
                )
                answer = {"request": _request_json(request)}
            elif self.path == "/status":
                if body["payer_name"] not in self.book.by_name:
                    answer = {"known_payer": False}
                elif self.book.outage(body["payer_name"], now):
                    answer = {"known_payer": True, "outage": True}
                else:
                    with self.book.lock:
                        request = self.book.requests.get(body["key"])
                    answer = {"known_payer": True, "request": request and _request_json(request)}
            elif self.path == "/outage":
                answer = {"outage": self.book.outage(body["payer_name"], now)}
            else:
                self.send_error(404)
                return
        except (KeyError, ValueError, TypeError) as exc:
            self.send_error(400, f"unreadable request: {exc}")
            return
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def serve(book: PayerBook) -> ThreadingHTTPServer:
    """Serve the book on a loopback port (in a daemon thread); `server.server_address` says where."""
    handler = type("BookHandler", (_Handler,), {"book": book})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    return server


class RemoteBook:
    """The book as a worker process reaches it: the same three calls the `sim` channel makes."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def _post(self, path: str, **body) -> dict:
        try:
            response = requests.post(f"{self.url}{path}", json=body, timeout=10)
        except requests.RequestException as exc:
            raise IntegrationError(f"Simulated payer unreachable: {exc}") from exc
        if response.status_code != 200:
            raise IntegrationError(f"Simulated payer answered HTTP {response.status_code}", permanent=True)
        return response.json()

    def outage(self, payer_name: str, now: datetime) -> bool:
        return self._post("/outage", payer_name=payer_name, now=now.isoformat())["outage"]

    def receive(self, *, key: str, case_id: int, payer_name: str, now: datetime, update: bool, urgent: bool):
        data = self._post(
            "/receive",
            key=key,
            case_id=case_id,
            payer_name=payer_name,
            now=now.isoformat(),
            update=update,
            urgent=urgent,
        )
        return _request_from(data["request"])

    def answer(self, *, key: str, payer_name: str, now: datetime, via_api: bool) -> PayerDecision | None:
        data = self._post("/status", key=key, payer_name=payer_name, now=now.isoformat())
        if data.get("outage"):
            raise IntegrationError("Simulated payer outage: HTTP 503")
        request = data.get("request")
        return None if not request else decision_of(_request_from(request), now)


# The book of the run in progress when the cluster's tasks run inline, in the simulation's process; on real
# workers the `sim` channel reaches it at SIMULATION_PAYER_URL instead (integrations/simulation/channel.py).
ACTIVE: PayerBook | None = None
