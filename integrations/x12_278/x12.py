"""The X12 segment level: read an interchange with the separators its ISA declares, check its envelope, and write one.

A small tokenizer of our own rather than pyx12's maps: pyx12 4.0 ships no 005010
278 (X217/X215) or 270/271 (X279) map, and writing those maps from the
implementation guides is more than the 278 mapping we need on top. The envelope
rules here (ISA fixed width, control numbers and counts) are the X12 ones
every transaction shares; the 278 and 271 mappings are in `parse.py` and
`eligibility.py`, and every request we build is checked by `validate_request`
before it leaves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

ISA_LENGTH = 106  # the ISA segment including its terminator: fixed width in every X12 version


class X12Error(ValueError):
    """The text is not an interchange we can read. The message says what is wrong, for staff."""


@dataclass(frozen=True)
class Separators:
    element: str = "*"
    component: str = ":"
    repetition: str = "^"
    segment: str = "~"


@dataclass
class Segment:
    tag: str
    elements: list[str]  # elements[0] is the tag, so elements[1] is XX01

    def get(self, index: int) -> str:
        return self.elements[index] if index < len(self.elements) else ""

    def components(self, index: int, seps: Separators) -> list[str]:
        return self.get(index).split(seps.component)


@dataclass
class Transaction:
    st: Segment
    segments: list[Segment]  # between ST and SE, exclusive
    se: Segment

    @property
    def code(self) -> str:
        return self.st.get(1)


@dataclass
class Group:
    gs: Segment
    transactions: list[Transaction] = field(default_factory=list)


@dataclass
class Interchange:
    isa: Segment
    separators: Separators
    groups: list[Group] = field(default_factory=list)
    ta1: list[Segment] = field(default_factory=list)

    @property
    def control_number(self) -> str:
        return self.isa.get(13)

    @property
    def sender_id(self) -> str:
        return self.isa.get(6).strip()

    @property
    def receiver_id(self) -> str:
        return self.isa.get(8).strip()

    def transactions(self) -> list[Transaction]:
        return [t for g in self.groups for t in g.transactions]


def read_interchange(text: str) -> Interchange:
    """Tokenize and check one interchange. Raises `X12Error` with a reason staff can act on.

    Separators come from the ISA (element = the 4th character, repetition = ISA11,
    component = ISA16, segment terminator = the character after ISA16); CR/LF
    between segments are tolerated. Checked: ISA width, IEA01/IEA02, GE01/GE02,
    SE01/SE02 against what was received.
    """
    if not isinstance(text, str):
        raise X12Error("The answer is not text.")
    body = text.lstrip("\ufeff \t\r\n")
    if not body.startswith("ISA"):
        raise X12Error("The answer does not start with an ISA segment: it is not an X12 interchange.")
    if len(body) < ISA_LENGTH:
        raise X12Error(f"The ISA segment is cut short ({len(body)} characters; an ISA is {ISA_LENGTH}).")
    element = body[3]
    # The terminator is the first character after the 16 ISA elements: find ISA16 by counting separators,
    # so an ISA of the wrong width is reported as such rather than misread.
    count, pos = 0, 0
    while pos < len(body) and count < 16:
        if body[pos] == element:
            count += 1
        pos += 1
    pos -= 1  # the 16th element separator
    if count < 16:
        raise X12Error("The ISA segment does not have 16 elements.")
    isa_end = pos + 2  # ISA16 is one character, then the segment terminator
    if isa_end + 1 != ISA_LENGTH:
        raise X12Error(f"The ISA segment is {isa_end + 1} characters long; an ISA is exactly {ISA_LENGTH}.")
    component = body[pos + 1]
    terminator = body[isa_end]
    if terminator in "\r\n" or terminator.isalnum():
        raise X12Error("The ISA segment has no usable segment terminator after ISA16.")
    isa_elements = body[:isa_end].split(element)
    repetition = isa_elements[11] if isa_elements[12] >= "00402" and len(isa_elements[11]) == 1 else ""
    seps = Separators(element=element, component=component, repetition=repetition or "^", segment=terminator)

    segments: list[Segment] = []
    for raw in body.split(terminator):
        raw = raw.strip("\r\n")
        if not raw.strip():
            continue
        parts = raw.split(element)
        segments.append(Segment(tag=parts[0].strip(), elements=parts))
    return _assemble(segments, seps)


def _assemble(segments: list[Segment], seps: Separators) -> Interchange:
    isa = segments[0]
    ix = Interchange(isa=isa, separators=seps)
    group: Group | None = None
    tx_open: Segment | None = None
    tx_segments: list[Segment] = []
    iea: Segment | None = None
    for seg in segments[1:]:
        tag = seg.tag
        if iea is not None:
            raise X12Error(f"Segment {tag} after the IEA trailer.")
        if tag == "TA1":
            ix.ta1.append(seg)
        elif tag == "GS":
            if group is not None:
                raise X12Error("A GS segment inside an open functional group (GE missing).")
            group = Group(gs=seg)
        elif tag == "ST":
            if group is None:
                raise X12Error("An ST segment outside a functional group (GS missing).")
            if tx_open is not None:
                raise X12Error("An ST segment inside an open transaction set (SE missing).")
            tx_open, tx_segments = seg, []
        elif tag == "SE":
            if tx_open is None or group is None:
                raise X12Error("An SE segment with no ST.")
            counted = len(tx_segments) + 2
            if seg.get(1) != str(counted):
                raise X12Error(f"SE01 says {seg.get(1) or 'nothing'} segments; the transaction set has {counted}.")
            if seg.get(2) != tx_open.get(2):
                raise X12Error(f"SE02 ({seg.get(2)}) does not match ST02 ({tx_open.get(2)}).")
            group.transactions.append(Transaction(st=tx_open, segments=tx_segments, se=seg))
            tx_open = None
        elif tag == "GE":
            if group is None or tx_open is not None:
                raise X12Error("A GE segment with no GS, or inside an open transaction set.")
            if seg.get(1) != str(len(group.transactions)):
                raise X12Error(
                    f"GE01 says {seg.get(1) or 'nothing'} transaction sets; the group has {len(group.transactions)}."
                )
            if seg.get(2) != group.gs.get(6):
                raise X12Error(f"GE02 ({seg.get(2)}) does not match GS06 ({group.gs.get(6)}).")
            ix.groups.append(group)
            group = None
        elif tag == "IEA":
            if group is not None:
                raise X12Error("The IEA trailer closes an open functional group (GE missing).")
            iea = seg
        elif tx_open is not None:
            tx_segments.append(seg)
        else:
            raise X12Error(f"Segment {tag or '(empty)'} outside a transaction set.")
    if iea is None:
        raise X12Error("The interchange has no IEA trailer.")
    if tx_open is not None or group is not None:
        raise X12Error("The interchange ends inside an open transaction set or group.")
    if iea.get(2) != isa.get(13):
        raise X12Error(f"IEA02 ({iea.get(2)}) does not match ISA13 ({isa.get(13)}).")
    if iea.get(1) != str(len(ix.groups)):
        raise X12Error(f"IEA01 says {iea.get(1) or 'nothing'} functional groups; the interchange has {len(ix.groups)}.")
    return ix


# --- writing -------------------------------------------------------------------------------------

WRITE = Separators()  # what we send: * : ^ ~ (the usual choice; the receiver reads them from our ISA)
_FORBIDDEN = set("*:^~\r\n")


def clean(value) -> str:
    """One element's text: separators and line breaks removed, upper-cased as X12 receivers expect."""
    text = "" if value is None else str(value)
    return "".join(" " if ch in _FORBIDDEN else ch for ch in text).strip().upper()


def seg(*elements) -> str:
    """One segment without its terminator; trailing empty elements are dropped (X12 syntax)."""
    parts = [str(e) if e is not None else "" for e in elements]
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return WRITE.element.join(parts)


def comp(*components) -> str:
    parts = [str(c) if c is not None else "" for c in components]
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return WRITE.component.join(parts)


@dataclass(frozen=True)
class Envelope:
    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    interchange_control: int
    group_control: int
    functional_id: str  # GS01: HI (278), HS (270), HB (271), FA (999)
    version: str  # GS08, e.g. 005010X217
    usage: str = "P"  # ISA15: P production, T test
    created: datetime | None = None


def envelope(env: Envelope, body_segments: list[str], *, transaction_code: str, st02: str = "0001") -> str:
    """ISA/GS/ST … SE/GE/IEA around `body_segments`, with counts and control numbers filled in."""
    when = env.created or datetime.now()
    isa = seg(
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        env.sender_qualifier.ljust(2)[:2],
        env.sender_id.ljust(15)[:15],
        env.receiver_qualifier.ljust(2)[:2],
        env.receiver_id.ljust(15)[:15],
        when.strftime("%y%m%d"),
        when.strftime("%H%M"),
        WRITE.repetition,
        "00501",
        f"{env.interchange_control:09d}",
        "0",
        env.usage,
        WRITE.component,
    )
    gs = seg(
        "GS",
        env.functional_id,
        env.sender_id.strip(),
        env.receiver_id.strip(),
        when.strftime("%Y%m%d"),
        when.strftime("%H%M"),
        str(env.group_control),
        "X",
        env.version,
    )
    st = seg("ST", transaction_code, st02, env.version)
    se = seg("SE", str(len(body_segments) + 2), st02)
    ge = seg("GE", "1", str(env.group_control))
    iea = seg("IEA", "1", f"{env.interchange_control:09d}")
    return WRITE.segment.join([isa, gs, st, *body_segments, se, ge, iea]) + WRITE.segment
