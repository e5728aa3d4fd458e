"""An IHE PCD-01 ORU^R01 message read with python-hl7: who sent it, its control id, the patient
id, the devices, each observation (MDC code, value, unit, time, validity) and the acknowledgement
it asks for; and the ACK to answer it. What the codes mean is the clinical core's
(clinical/monitoring/devices)."""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

import hl7
from hl7 import parser as hl7_parser
from hl7 import util as hl7_util
from hl7.util import unescape

# python-hl7 logs the text of a field it cannot unescape (a patient id, a value): never, wherever
# a message is read (the listener, a nurse assigning one on a page). Its unescaping logs through
# a logger named after its file, outside the "hl7" hierarchy.
for _logger in (logging.getLogger("hl7"), hl7_util.logger):
    _logger.setLevel(logging.CRITICAL)

MAX_OBSERVATIONS = 500  # an engineering bound: a monitor's message holds a few dozen
MAX_PATIENT_IDS = 10    # the same: a field (PID-3, OBX-8) repeats a handful of times at most
YEARS = (2000, 2100)    # a time outside these years is a monitor's clock gone wrong: not a time
# OBX-11, the observation's result status (HL7 v2 table 0085): the statuses under which a value
# is a result to record. X (cannot be obtained: the monitor says it is invalid), W (the value
# sent before was wrong), D (delete that value) and the statuses of results not yet there carry
# none (sessions.md 5: R valid, X invalid); an empty status is taken as R.
RESULT_STATUSES = {"": "", "R": "", "F": "", "C": "", "P": ""}
NOT_A_RESULT = {"X": "marked invalid by the monitor",
                "W": "marked by the monitor as a wrong value sent earlier",
                "D": "marked by the monitor as a value to delete"}
# OBX-8 as PCD-01 uses it: the measurement's status (IEEE 11073-10201 MeasurementStatus; some
# monitors write demo mode as DEMO). A value so marked is not the patient's: kept with why.
NOT_THE_PATIENTS = {"DEMO": "sent by the monitor in demonstration mode",
                    "DEMO-DATA": "sent by the monitor in demonstration mode",
                    "TEST-DATA": "marked by the monitor as test data",
                    "CALIBRATION-ONGOING": "measured while the monitor was calibrating",
                    "INVALID": "marked invalid by the monitor",
                    "NOT-AVAILABLE": "marked by the monitor as not available"}
# OBX-2, the value's type (HL7 v2 table 0125): a vital is recorded from a numeric value (NM), or
# from one with no type named (taken as NM); a numeric array (NA: a waveform's samples), a range
# (NR), a structured numeric (SN), text or a code is none to record
NUMERIC_TYPES = {"", "NM"}
VALUE_TYPE_WORDS = {"NA": "a waveform's samples", "MA": "several channels' samples",
                    "NR": "a range", "SN": "a structured numeric", "ST": "text", "TX": "text",
                    "FT": "text", "CWE": "a code", "CNE": "a code", "CE": "a code",
                    "TS": "a time", "DTM": "a time"}
# PID-3 identifier types (HL7 table 0203) that number a visit or an account, never a patient
NOT_A_PATIENT_ID = {"VN", "AN", "VI"}
# Enhanced acknowledgement mode (HL7 v2 2.9.3; sessions.md 5: "enhanced mode CA/CE/CR + ERR"):
# MSH-15 asks for an accept ACK, which answers stored (CA), not stored (CE: send it again) or
# refused (CR); MSH-16 for an application ACK (AA, AE, AR). Each says when (HL7 table 0155).
ACCEPT_CODES = {"AA": "CA", "AE": "CE", "AR": "CR"}
WANTED_WHEN = {"AL": lambda outcome: True,             # always
               "NE": lambda outcome: False,            # never
               "SU": lambda outcome: outcome == "AA",  # on success only
               "ER": lambda outcome: outcome != "AA"}  # on an error or a refusal only


# MSH-18, the character set of the message's bytes (HL7 v2 table 0211), as Python's codecs name
# it. ASCII is read as undeclared: a monitor saying ASCII but sending a degree sign loses nothing.
CHARSETS = {"8859/1": "latin-1", "8859/2": "iso8859-2", "8859/3": "iso8859-3", "8859/4": "iso8859-4",
            "8859/5": "iso8859-5", "8859/6": "iso8859-6", "8859/7": "iso8859-7", "8859/8": "iso8859-8",
            "8859/9": "iso8859-9", "8859/15": "iso8859-15", "UNICODE UTF-8": "utf-8",
            "GB 18030-2000": "gb18030", "BIG-5": "big5"}


def decode(block: bytes) -> str:
    """A framed message's text: in the character set its MSH-18 declares, else UTF-8, else
    Latin-1 (where every byte is a character: nothing a monitor sent is lost or replaced).
    Monitors often declare 8859/1 (Philips IntelliVue, IHE's gateway examples) and write a
    degree sign or a patient's name in it, which read as UTF-8 would be lost."""
    for codec in (CHARSETS.get(_charset(block)), "utf-8"):
        if codec:
            try:
                return block.decode(codec)
            except UnicodeDecodeError:  # not what it declared: the next reading
                continue
    return block.decode("latin-1")


def _charset(block: bytes) -> str:
    """MSH-18's first repetition (the message's own character set), upper case; "" if none."""
    header = block.lstrip().split(b"\r", 1)[0].split(b"\n", 1)[0]
    if not header.startswith(b"MSH") or len(header) < 8:
        return ""
    fields = header.split(header[3:4])
    if len(fields) <= 17:
        return ""
    first = fields[17].split(header[5:6])[0] if header[5:6] else fields[17]
    return first.decode("ascii", errors="ignore").strip().upper()


class Unreadable(ValueError):
    """Not an HL7 message kapclinic can read (answered AR)."""


@dataclass(frozen=True)
class Observation:
    code: str
    value: str
    unit: str
    observed_at: datetime | None
    status: str    # OBX-11 as sent, upper case
    device: str
    refid: str = ""      # OBX-3's second component (an MDC reference id, or a name)
    unit_name: str = ""  # OBX-6's second component
    flags: tuple[str, ...] = ()  # OBX-8's repetitions, upper case
    value_type: str = ""  # OBX-2 as sent, upper case
    values_sent: int = 1  # the parts OBX-5 holds (components and repetitions): one for a number
    # OBX-3's and OBX-6's first triplet (identifier, text, coding system) when their MDC
    # alternate was read instead, else empty
    code_first: tuple[str, str, str] = ("", "", "")
    unit_first: tuple[str, str, str] = ("", "", "")

    @property
    def not_a_number(self) -> str:
        """Why OBX-2 or OBX-5 says this is not one measured number (a waveform's samples, a
        range, text), or "" when it is one."""
        if self.value_type not in NUMERIC_TYPES:
            words = VALUE_TYPE_WORDS.get(self.value_type, f"type {self.value_type[:5]}")
            return f"sent as {words} (OBX-2 {self.value_type[:5]}), not one measured number"
        if self.values_sent > 1:
            return f"it holds {self.values_sent} values, not one measured number"
        if not self.value:
            return "OBX-5's first part is empty: not one measured number"
        return ""

    @property
    def not_a_result(self) -> str:
        """Why OBX-11 (or OBX-8's measurement status) says this is no value to record, or ""
        when it is one."""
        marked = next((NOT_THE_PATIENTS[f] for f in self.flags if f in NOT_THE_PATIENTS), "")
        if marked:
            return marked
        if self.status in RESULT_STATUSES:
            return ""
        return NOT_A_RESULT.get(self.status, f"its result status {self.status[:5]!r} carries no value "
                                             "to record")


@dataclass(frozen=True)
class PatientId:
    """One identifier of PID-3: its value, its type (PID-3.5, HL7 table 0203: MR a medical
    record number) and who issued it (PID-3.4, the assigning authority: its namespace id and
    universal id, those sent)."""

    ident: str
    kind: str = ""
    authority: tuple[str, ...] = ()

    def issued_by(self, authorities: frozenset[str]) -> bool:
        """Whether one of ``authorities`` (casefolded) issued it; an id that names no
        authority is taken as the clinic's own (most monitors send the MRN alone)."""
        return not self.authority or any(name.casefold() in authorities for name in self.authority)

    @property
    def words(self) -> str:
        return f"{self.ident} issued by {self.authority[0]}" if self.authority else self.ident


def chosen_ids(ids: list[PatientId]) -> list[PatientId]:
    """The ids that may name the patient: those typed MR if any, else the first (another id
    that happens to equal some patient's MRN must not claim the message)."""
    return [i for i in ids if i.kind == "MR"] or ids[:1]


def patient_refs_of(ids: list[PatientId]) -> list[str]:
    return list(dict.fromkeys(i.ident for i in chosen_ids(ids)))


@dataclass
class Message:
    control_id: str
    sender: str           # MSH-3 as sent (namespace^universal id^type)
    sender_ids: list[str]  # its parts that can name a device
    version: str
    patient_ref: str      # PID-3's identifiers as sent (those typed MR first), for the record
    device_ids: list[str] = field(default_factory=list)
    device: str = ""       # what the record names as the device
    placing_ids: list[str] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    parsed: object = None  # the python-hl7 message, for the ACK
    patient_refs: list[str] = field(default_factory=list)  # PID-3's ids that may name the patient
    accept_ack: str = ""       # MSH-15 as sent, upper case
    application_ack: str = ""  # MSH-16 as sent, upper case
    patient_ids: list[PatientId] = field(default_factory=list)  # PID-3's ids as sent
    foreign_ids: list[PatientId] = field(default_factory=list)  # those no authority of the clinic's issued

    def keep_ids_issued_by(self, authorities: frozenset[str]) -> None:
        """Take for an MRN only ids issued under ``authorities`` (casefolded: the clinic's
        assigning authorities, PID-3.4) or naming none: an MRN issued by another hospital may
        equal one of this clinic's. The ids are chosen first (``chosen_ids``), then the outside
        ones dropped: when every chosen id is another's, only an id that names the clinic's
        authority itself may stand in, never one that names none (it could be anyone's
        number). No authorities (the listener's default): every id."""
        if not authorities:
            return
        chosen = chosen_ids(self.patient_ids)
        self.foreign_ids = [i for i in chosen if not i.issued_by(authorities)]
        ours = [i for i in chosen if i.issued_by(authorities)] or [
            i for i in self.patient_ids if i.authority and i.issued_by(authorities)]
        self.patient_refs = list(dict.fromkeys(i.ident for i in ours))


def _field(segment, number: int, component: int = 1) -> str:
    return _repeat(segment, number, 1, component) if len(segment) > number else ""


def _repeat(segment, number: int, repeat: int, component: int) -> str:
    """A component of one repetition of a field, as python-hl7's ``extract_field`` reads it
    (unescaped; a component or repetition the field lacks is ""), walking its tree directly:
    ``extract_field`` builds an accessor and checks its path on every call, and a message
    is read through some 50 of them. A test compares the two on random messages."""
    part = _leaf(segment, number, repeat, component)
    return part if number in (1, 2) and _name(segment) == "MSH" else _unescaped(segment, part)


def _leaf(segment, number: int, repeat: int, component: int) -> str:
    """A component's first subcomponent as sent, escapes left as they are ("" when absent)."""
    part = _component(segment, number, repeat, component)
    if isinstance(part, hl7.Component):
        part = part[0] if part else ""
    return "" if part is None else str(part)


def _unescaped(segment, text: str) -> str:
    """``text`` with its HL7 escapes read; as sent when python-hl7 cannot read them (a malformed
    formatting escape such as ``\\.brx\\`` raises there): one odd field never costs the message."""
    try:
        return unescape(segment, text)
    except Exception:  # noqa: BLE001 - python-hl7 raises ValueError and others on such escapes
        return text


def _component(segment, number: int, repeat: int, component: int):
    """One component of a field's repetition as python-hl7 holds it (text, or a Component of
    subcomponents); None when the field lacks it."""
    if number >= len(segment):
        return None
    field = segment[number]
    if not isinstance(field, list) or repeat > len(field):
        return None
    value = field[repeat - 1]
    if not isinstance(value, hl7.Repetition):  # a leaf: the whole field is its first component
        return value if component == 1 else None
    return value[component - 1] if component <= len(value) else None


def _name(segment) -> str:
    """A segment's name (its first field)."""
    first = segment[0]
    return str(first[0] if isinstance(first, list) and first else first)


def _when(text: str, zone: tzinfo) -> datetime | None:
    """An HL7 time; one sent without an offset is taken in the clinic's zone."""
    text = (text or "").strip()
    if not text:
        return None
    return _moment(text, zone)


@functools.lru_cache(maxsize=256)  # a message's observations mostly share one time
def _moment(text: str, zone: tzinfo) -> datetime | None:
    try:
        moment = hl7.parse_datetime(text)
        if moment is None or not YEARS[0] <= moment.year <= YEARS[1]:
            return None
        if moment.tzinfo is None:
            return moment.replace(tzinfo=zone)
        return moment.astimezone(UTC)  # python-hl7's own offset class, as a standard one
    except (ValueError, TypeError, OverflowError):  # a date or an offset no clock shows
        return None


class _Plan(hl7_parser._ParsePlan):
    """python-hl7's parse plan, its levels made once: python-hl7 makes a new plan object for
    each of a message's elements (some 220 in a PCD-01 message) and each container through
    keyword arguments, which was 60 % of the parse. The parse itself is python-hl7's
    (``_split``); a test checks the tree equals ``hl7.parse``'s, attribute for attribute."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self._child: _Plan | None = None
        deeper = self.separators[self.separators.find(self.separator):]
        self._splits = re.compile(f"[{re.escape(deeper)}]").search
        self._make = self.containers[0]
        # the attributes python-hl7's Container.__init__ sets, given to each container at once
        self._attributes = {"separator": self.separator, "esc": self.esc,
                            "separators": self.separators, "factory": self.factory}

    def next(self):
        if self._child is None and len(self.containers) > 1:
            self._child = super().next()
        return self._child

    def applies(self, text: str) -> bool:
        return self._splits(text) is not None

    def container(self, data):
        made = list.__new__(self._make)
        made += data
        made.__dict__ = self._attributes.copy()
        return made


_PLANS: dict[tuple[str, str], _Plan] = {}


def parse_hl7(text: str) -> hl7.Message:
    """``hl7.parse(text)``, with the parse plan made once for each set of separators."""
    text = text.strip()
    plan = hl7_parser.create_parse_plan(text)
    key = (plan.separators, plan.esc)
    cached = _PLANS.get(key)
    if cached is None:
        if len(_PLANS) > 32:  # separators are the sender's choice: bound what is kept
            _PLANS.clear()
        cached = _PLANS[key] = _Plan(plan.separator, plan.separators, plan.containers, plan.esc,
                                     plan.factory)
    return hl7_parser._split(text, cached)


def parse(raw: str, zone: tzinfo) -> Message:
    """The message's parts; raises Unreadable when it is not an ORU^R01 with MSH-10."""
    # segments end with CR; a sender's CR LF, bare LF or blank line between them is no segment
    text = "\r".join(line for line in raw.replace("\n", "\r").split("\r") if line.strip())
    if not text.startswith("MSH"):
        raise Unreadable("it does not start with an MSH segment")
    try:
        parsed = parse_hl7(text)
        msh = parsed.segment("MSH")
    except Exception as exc:  # python-hl7 raises several kinds on malformed text
        raise Unreadable(f"HL7 could not be parsed ({type(exc).__name__})") from exc
    # one message, one patient: a second header or patient in the block would have its
    # observations read as the first patient's
    # (counted by name however the sender spaced or cased it, so none hides from the count)
    names = [_name(segment).strip().upper() for segment in parsed]
    for name, refusal in (("MSH", "it holds {} messages (MSH segments): send each in a block of its own"),
                          ("PID", "it holds results of {} patients (PID segments): send one patient "
                                  "per message")):
        if names.count(name) > 1:
            raise Unreadable(refusal.format(names.count(name)))
    control_id = _field(msh, 10).strip()
    if not control_id:
        raise Unreadable("MSH-10 (the message control id) is empty")
    kind = _field(msh, 9, 1), _field(msh, 9, 2)
    if kind != ("ORU", "R01"):
        raise Unreadable(f"it is an {' '.join(kind).strip() or 'unnamed'} message, not an "
                         "observation result (ORU R01)")
    # MSH-3, the sending application (namespace^universal id): the monitor. Some leave it empty
    # and write their serial in MSH-4, the sending facility: that names the sender (a resend is
    # known by sender and control id) but places no monitor, since a facility's id is shared
    sender_ids = [part for part in (_field(msh, 3, 1).strip(), _field(msh, 3, 2).strip()) if part]
    sending = 3 if sender_ids else 4
    sender = str(msh[sending])[:200] if len(msh) > sending else ""
    message = Message(control_id=control_id[:64], sender=sender, sender_ids=sender_ids,
                      version=_field(msh, 12), patient_ref="", parsed=parsed,
                      accept_ack=_field(msh, 15).strip().upper()[:10],
                      application_ack=_field(msh, 16).strip().upper()[:10])
    pid = _first(parsed, "PID")
    if pid is not None:
        message.patient_ids = _patient_ids(pid)
        message.patient_refs = patient_refs_of(message.patient_ids)
        message.patient_ref = ", ".join(dict.fromkeys(i.ident for i in message.patient_ids))[:100]
    obr = _first(parsed, "OBR")
    first_time = _when(_field(obr, 7), zone) if obr is not None else None
    fallback = first_time  # OBR-7 of the OBR group an OBX stands in
    devices = list(sender_ids)
    for segment in parsed:
        name = _name(segment)
        if name == "OBR":
            fallback = _when(_field(segment, 7), zone) or first_time
            continue
        if name != "OBX":
            continue
        if len(message.observations) >= MAX_OBSERVATIONS:
            break
        # OBX-18, an EI: its universal id (an EUI-64) and its entity id, either of which a
        # monitor may use for itself (``0123456789ABCDEF^EUI-64``, ``^^0123456789ABCDEF^EUI-64``)
        named = [i for i in (_field(segment, 18, 3).strip(), _field(segment, 18, 1).strip()) if i]
        devices += [i[:100] for i in named if i[:100] not in devices]
        code, refid, code_first = _coded(segment, 3, ("MDC",))
        unit, unit_name, unit_first = _coded(segment, 6, ("MDC", "UCUM"))
        message.observations.append(Observation(
            # the value as sent: a number has no escapes, and python-hl7 cuts the text at one it
            # cannot read (``120\\80`` would read as 120)
            code=code[:64], value=_leaf(segment, 5, 1, 1).strip(), unit=unit[:64],
            code_first=code_first, unit_first=unit_first,
            observed_at=_when(_field(segment, 14), zone) or fallback,
            status=_field(segment, 11).strip().upper(), device=named[0][:100] if named else "",
            refid=refid[:100], unit_name=unit_name[:100], flags=_flags(segment),
            value_type=_field(segment, 2).strip().upper()[:10], values_sent=_parts(segment, 5)))
    message.device_ids = devices
    # the device itself: the one its observations name (OBX-18), else MSH-3's universal id
    reported = [d for d in devices if d not in sender_ids]
    message.device = (reported or sender_ids[1:] or sender_ids or [""])[0][:100]
    # the ids that can place the monitor at a chair, the device's own first
    message.placing_ids = reported + [d for d in sender_ids[1:] if d not in reported] or sender_ids
    return message


def _coded(segment, number: int, systems: tuple[str, ...]) -> tuple[str, str, tuple[str, str, str]]:
    """A coded field's identifier and text, stripped, and what its first triplet named instead:
    its first triplet (components 1-3; then no other), or its alternate (4-6) when the first
    names another coding system and the alternate one of ``systems`` (the IHE PCD layout that
    sends LOINC first: ``8889-8^Heart Rate by Oximetry^LN^149530^MDC_PULS_OXIM_PULS_RATE^MDC``),
    with the first's (identifier, text, system) to check them against each other. A first
    triplet naming no coding system is the one read (many monitors name none)."""
    first = [_repeat(segment, number, 1, c).strip() for c in (1, 2, 3)]
    system = first[2].upper()
    if system and system not in systems and _repeat(segment, number, 1, 6).strip().upper() in systems:
        return (_repeat(segment, number, 1, 4).strip(), _repeat(segment, number, 1, 5).strip(),
                (first[0][:64], first[1][:100], system[:20]))
    return first[0], first[1], ("", "", "")


def _parts(segment, number: int) -> int:
    """How many values a field holds: its repetitions', components' and subcomponents' texts
    that are not empty."""
    if len(segment) <= number:
        return 0
    count = 0
    for repetition in segment[number]:
        for part in repetition if isinstance(repetition, hl7.Repetition) else [repetition]:
            pieces = part if isinstance(part, hl7.Component) else [part]
            count += sum(1 for piece in pieces if str(piece).strip())
    return count


def _patient_ids(pid) -> list[PatientId]:
    """PID-3's identifiers with their types and issuers (a repeating field: a monitor may send
    the clinic's MRN beside ids of its own), those typed MR (medical record number, PID-3.5)
    first, each once; never a visit or account number."""
    typed, others = [], []
    for repeat, (ident, kind) in enumerate(zip(_repeats(pid, 3, 1), _repeats(pid, 3, 5), strict=True), 1):
        ident, kind = ident.strip()[:100], kind.strip().upper()[:10]
        if ident and kind not in NOT_A_PATIENT_ID:
            # PID-3.4 is an HD: namespace id & universal id & universal id type
            names = _subcomponents(pid, 3, repeat, 4)[:2]
            issuer = tuple(dict.fromkeys(part[:100] for part in names if part))
            (typed if kind == "MR" else others).append(PatientId(ident, kind, issuer))
    return list(dict.fromkeys(typed + others))


def _subcomponents(segment, number: int, repeat: int, component: int) -> list[str]:
    """The subcomponents of one component of a field's repetition, unescaped and stripped
    (``_repeat`` reads the first of them). One whose escapes cannot be read (python-hl7 cuts
    the text there) is kept as sent: it names something, even if not legibly."""
    part = _component(segment, number, repeat, component)
    if part is None:
        return []
    parts = [str(p) for p in (part if isinstance(part, hl7.Component) else [part])]
    return [_unescaped(segment, p).strip() or p.strip() for p in parts]


def _flags(obx) -> tuple[str, ...]:
    """OBX-8's repetitions, upper case: every one, since a status word counts wherever the
    monitor put it (most send none)."""
    if len(obx) <= 8 or not str(obx[8]).strip():
        return ()
    return tuple(f.strip().upper()[:30] for f in _repeats(obx, 8, 1, MAX_OBSERVATIONS) if f.strip())


def _repeats(segment, number: int, component: int, limit: int = MAX_PATIENT_IDS) -> list[str]:
    """A component of each repetition of a field (the first ``limit``)."""
    count = len(segment(number)) if len(segment) > number else 0
    return [_repeat(segment, number, repeat, component) for repeat in range(1, min(count, limit) + 1)]


def _first(parsed, name: str):
    found = _all(parsed, name)
    return found[0] if found else None


def _all(parsed, name: str) -> list:
    try:
        return list(parsed.segments(name))
    except KeyError:
        return []


def answer_code(outcome: str, accept_ack: str = "", application_ack: str = "") -> str | None:
    """The MSA-1 code that answers a message whose outcome is ``outcome`` (AA stored, AE not
    stored, AR refused), as its MSH-15 and MSH-16 ask; None: it asked for no answer.

    Both empty is original mode: the outcome itself. Otherwise (enhanced mode) the accept ACK
    (CA, CE, CR) when MSH-15 asks for one, since kapclinic accepts a message only by committing
    it; else the application ACK when MSH-16 asks. One answer at most: the application ACK of
    enhanced mode is a message of its own that the receiver may not start on the sender's
    connection, and a second block there would answer the sender's next message. Where a field
    is blank or holds a value HL7 does not define, kapclinic answers rather than stays silent:
    a blank MSH-15 asks for no accept ACK (senders that set only MSH-16), a blank MSH-16 for the
    application ACK, anything else for both always."""
    if not accept_ack and not application_ack:
        return outcome
    if accept_ack and WANTED_WHEN.get(accept_ack, WANTED_WHEN["AL"])(outcome):
        return ACCEPT_CODES[outcome]
    if WANTED_WHEN.get(application_ack or "AL", WANTED_WHEN["AL"])(outcome):
        return outcome
    return None


def ack(message: Message | None, code: str, *, error: str = "", raw: str = "") -> str | None:
    """The ACK that answers a message whose outcome is ``code`` (``AA`` accepted, ``AE`` stored
    nothing: send again, ``AR`` not readable), in the mode it asks for (``answer_code``); None
    when it asked for no answer. A refusal or an error carries an ERR segment with what went
    wrong. Never raises: a header python-hl7 cannot answer from (too few fields) gets a plain
    ACK naming its MSH-10 if any."""
    parsed = message.parsed if message is not None else _header_only(raw)
    modes = (message.accept_ack, message.application_ack) if message is not None else _modes(parsed)
    answered = answer_code(code, *modes)
    if answered is None:
        return None
    try:
        text = str(parsed.create_ack(ack_code=answered, application="KAPCLINIC")) if parsed else ""
    except Exception:  # python-hl7 needs MSH-12 and the fields before it
        text = ""
    if not text:
        control = _escape(message.control_id if message is not None else _control_id(raw))
        text = (f"MSH|^~\\&|KAPCLINIC||||{datetime.now(UTC):%Y%m%d%H%M%S+0000}||ACK|"
                f"KAP{datetime.now(UTC):%H%M%S%f}|P|2.6\rMSA|{answered}|{control}")
    text = text.rstrip("\r")
    if error:
        text += "\rERR|||" + ("207" if code == "AE" else "100") + "|E|||" + _escape(error[:200])
    return text + "\r"


def _modes(header) -> tuple[str, str]:
    """MSH-15 and MSH-16 of an unreadable message's header, if it could be read."""
    if header is None:
        return "", ""
    try:
        msh = header.segment("MSH")
    except Exception:  # noqa: BLE001 - no header to answer from: original mode
        return "", ""
    return _field(msh, 15).strip().upper(), _field(msh, 16).strip().upper()


def _header_only(raw: str):
    """The MSH of an unreadable message, for its ACK to carry its control id if it can."""
    first = raw.replace("\n", "\r").split("\r", 1)[0]
    if not first.startswith("MSH|") or len(first) < 8:
        return None
    try:
        return hl7.parse(first)
    except Exception:
        return None


def _control_id(raw: str) -> str:
    """MSH-10 of a message too broken to parse, if its header gets that far."""
    first = raw.replace("\n", "\r").split("\r", 1)[0]
    fields = first.split("|") if first.startswith("MSH|") else []
    return fields[9][:64] if len(fields) > 9 else ""


def _escape(text: str) -> str:
    return (text.replace("\\", "\\E\\").replace("|", "\\F\\").replace("^", "\\S\\")
            .replace("&", "\\T\\").replace("~", "\\R\\").replace("\r", " ").replace("\n", " "))
