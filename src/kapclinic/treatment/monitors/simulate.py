"""A bedside monitor for demos and tests: PCD-01 ORU^R01 messages for one patient (a drifting
patient: heart rate, SpO2, blood pressure and breathing wander; now and then a value the
monitor marks invalid or one no person could have), sent over MLLP, each ACK awaited."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import UTC, datetime

PROFILE = "IHE PCD ORU-R01 2006^HL7^1.3.6.1.4.1.19376.1.6.1.1.1^ISO"


@dataclass
class Drift:
    """The simulated patient: each call moves every vital a little, within human bounds."""

    rng: random.Random
    hr: float = 78.0
    spo2: float = 97.0
    sbp: float = 128.0
    dbp: float = 78.0
    rr: float = 14.0

    def step(self) -> None:
        def walk(value: float, low: float, high: float, by: float) -> float:
            return min(high, max(low, value + self.rng.uniform(-by, by)))
        self.hr = walk(self.hr, 55, 120, 3)
        self.spo2 = walk(self.spo2, 90, 100, 0.6)
        self.sbp = walk(self.sbp, 100, 175, 4)
        self.dbp = walk(self.dbp, 60, 105, 3)
        self.rr = walk(self.rr, 9, 24, 1)


def message(*, control_id: str, mrn: str, device: str, at: datetime, patient: Drift,
            odd: str = "") -> str:
    """One ORU^R01; ``odd`` = "invalid" marks the SpO2 invalid (OBX-11 X), "implausible" sends
    an SpO2 of 104 %."""
    ts = at.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")
    spo2 = "104" if odd == "implausible" else f"{patient.spo2:.0f}"
    status = "X" if odd == "invalid" else "R"
    rows = [
        ("147842^MDC_ECG_HEART_RATE^MDC", f"{patient.hr:.0f}", "264864^MDC_DIM_BEAT_PER_MIN^MDC", "R"),
        ("150456^MDC_PULS_OXIM_SAT_O2^MDC", spo2, "262688^MDC_DIM_PERCENT^MDC", status),
        ("150021^MDC_PRESS_BLD_NONINV_SYS^MDC", f"{patient.sbp:.0f}", "266016^MDC_DIM_MMHG^MDC", "R"),
        ("150022^MDC_PRESS_BLD_NONINV_DIA^MDC", f"{patient.dbp:.0f}", "266016^MDC_DIM_MMHG^MDC", "R"),
        ("151562^MDC_RESP_RATE^MDC", f"{patient.rr:.0f}", "264928^MDC_DIM_RESP_PER_MIN^MDC", "R"),
    ]
    segments = [
        f"MSH|^~\\&|KAPSIM^{device}^EUI-64||||{ts}||ORU^R01^ORU_R01|{control_id}|P|2.6|||NE|AL|||||{PROFILE}",
        f"PID|||{mrn}^^^kapclinic^MR",
        f"OBR|1|{control_id}^KAPSIM|||||{ts}",
        *(f"OBX|{n}|NM|{code}|1.1.{n}.1|{value}|{unit}|||||{flag}|||{ts}|||||{device}^EUI-64"
          for n, (code, value, unit, flag) in enumerate(rows, start=1)),
    ]
    return "\r".join(segments) + "\r"


async def run(host: str, port: int, *, mrn: str, count: int, every: float, device: str = "",
              seed: int = 1, prefix: str = "", report=None) -> dict[str, int]:
    """Send ``count`` messages ``every`` seconds apart on one connection; returns the ACK codes
    counted. ``report(n, code)`` is called after each ACK."""
    from hl7.mllp import open_hl7_connection

    rng = random.Random(seed)
    patient = Drift(rng)
    device = device or f"{rng.getrandbits(64):016X}"
    prefix = prefix or f"SIM{rng.getrandbits(32):08X}"
    reader, writer = await open_hl7_connection(host, port)
    counted: dict[str, int] = {}
    try:
        for n in range(count):
            patient.step()
            odd = rng.choices(["", "invalid", "implausible"], weights=[94, 3, 3])[0]
            text = message(control_id=f"{prefix}-{n}", mrn=mrn, device=device,
                           at=datetime.now(UTC), patient=patient, odd=odd)
            writer.writeblock(text.encode())
            await writer.drain()
            ack = await reader.readblock()
            ack_text = ack.decode(errors="replace") if isinstance(ack, bytes) else str(ack)
            code = next((line.split("|")[1] for line in ack_text.split("\r")
                         if line.startswith("MSA|")), "?")
            counted[code] = counted.get(code, 0) + 1
            if report is not None:
                report(n + 1, code)
            if every and n + 1 < count:
                await asyncio.sleep(every)
    finally:
        writer.close()
    return counted
