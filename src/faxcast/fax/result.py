"""The outcome of one fax session, and what each T.30 completion code means for a retry."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from faxcast.domain.outcome import FailureClass
from faxcast.domain.quality import Resolution


class T30Code(enum.IntEnum):
    """SpanDSP 0.0.6's T.30 phase E completion codes (T30_ERR_*), numbered as its header."""

    OK = 0
    CEDTONE = 1
    T0_EXPIRED = 2
    T1_EXPIRED = 3
    T3_EXPIRED = 4
    HDLC_CARRIER = 5
    CANNOT_TRAIN = 6
    OPER_INT_FAIL = 7
    INCOMPATIBLE = 8
    RX_INCAPABLE = 9
    TX_INCAPABLE = 10
    NORESSUPPORT = 11
    NOSIZESUPPORT = 12
    UNEXPECTED = 13
    TX_BADDCS = 14
    TX_BADPG = 15
    TX_ECMPHD = 16
    TX_GOTDCN = 17
    TX_INVALRSP = 18
    TX_NODIS = 19
    TX_PHBDEAD = 20
    TX_PHDDEAD = 21
    TX_T5EXP = 22
    RX_ECMPHD = 23
    RX_GOTDCS = 24
    RX_INVALCMD = 25
    RX_NOCARRIER = 26
    RX_NOEOL = 27
    RX_NOFAX = 28
    RX_T2EXPDCN = 29
    RX_T2EXPD = 30
    RX_T2EXPFAX = 31
    RX_T2EXPMPS = 32
    RX_T2EXPRR = 33
    RX_T2EXP = 34
    RX_DCNWHY = 35
    RX_DCNDATA = 36
    RX_DCNFAX = 37
    RX_DCNPHD = 38
    RX_DCNRRD = 39
    RX_DCNNORTN = 40
    FILEERROR = 41
    NOPAGE = 42
    BADTIFF = 43
    BADPAGE = 44
    BADTAG = 45
    BADTIFFHDR = 46
    NOMEM = 47
    RETRYDCN = 48
    CALLDROPPED = 49
    NOPOLL = 50
    IDENT_UNACCEPTABLE = 51
    SUB_UNACCEPTABLE = 52
    SEP_UNACCEPTABLE = 53
    PSA_UNACCEPTABLE = 54
    SID_UNACCEPTABLE = 55
    PWD_UNACCEPTABLE = 56
    TSA_UNACCEPTABLE = 57
    IRA_UNACCEPTABLE = 58
    CIA_UNACCEPTABLE = 59
    ISP_UNACCEPTABLE = 60
    CSA_UNACCEPTABLE = 61


@dataclass(frozen=True)
class CodeClass:
    """A group of completion codes, the failure class they fall in, and why."""

    failure: FailureClass
    reason: str
    codes: frozenset[T30Code]


C = T30Code

# Every code but OK is in exactly one group (a test checks it). The reasons are what a person
# deciding on a redial would say; the retry policy acts on the failure class.
CODE_CLASSES: tuple[CodeClass, ...] = (
    CodeClass(
        FailureClass.NO_FAX,
        "nothing answered in fax: a voice, silence or a modem of another kind; a redial may "
        "reach the fax machine, but after a few such calls the number is not a fax",
        frozenset({C.T0_EXPIRED, C.CEDTONE}),
    ),
    CodeClass(
        FailureClass.TRANSFER_FAILED,
        "the machines met but the exchange broke (line noise, training, a dropped call, a "
        "timer): the same document to the same machine usually goes through on a retry, at a "
        "lower speed",
        frozenset(
            {
                C.T1_EXPIRED,
                C.T3_EXPIRED,
                C.HDLC_CARRIER,
                C.CANNOT_TRAIN,
                C.OPER_INT_FAIL,
                C.UNEXPECTED,
                C.TX_BADDCS,
                C.TX_BADPG,
                C.TX_ECMPHD,
                C.TX_GOTDCN,
                C.TX_INVALRSP,
                C.TX_NODIS,
                C.TX_PHBDEAD,
                C.TX_PHDDEAD,
                C.TX_T5EXP,
                C.RX_ECMPHD,
                C.RX_GOTDCS,
                C.RX_INVALCMD,
                C.RX_NOCARRIER,
                C.RX_NOEOL,
                C.RX_NOFAX,
                C.RX_T2EXPDCN,
                C.RX_T2EXPD,
                C.RX_T2EXPFAX,
                C.RX_T2EXPMPS,
                C.RX_T2EXPRR,
                C.RX_T2EXP,
                C.RX_DCNWHY,
                C.RX_DCNDATA,
                C.RX_DCNFAX,
                C.RX_DCNPHD,
                C.RX_DCNRRD,
                C.RX_DCNNORTN,
                C.RETRYDCN,
                C.CALLDROPPED,
            }
        ),
    ),
    CodeClass(
        FailureClass.PERMANENT,
        "the far end said what it cannot do (receive at all, this size or resolution, this "
        "feature) or refused our identity: calling again sends the same thing to the same "
        "refusal",
        frozenset(
            {
                C.INCOMPATIBLE,
                C.RX_INCAPABLE,
                C.TX_INCAPABLE,
                C.NORESSUPPORT,
                C.NOSIZESUPPORT,
                C.NOPOLL,
                C.IDENT_UNACCEPTABLE,
                C.SUB_UNACCEPTABLE,
                C.SEP_UNACCEPTABLE,
                C.PSA_UNACCEPTABLE,
                C.SID_UNACCEPTABLE,
                C.PWD_UNACCEPTABLE,
                C.TSA_UNACCEPTABLE,
                C.IRA_UNACCEPTABLE,
                C.CIA_UNACCEPTABLE,
                C.ISP_UNACCEPTABLE,
                C.CSA_UNACCEPTABLE,
            }
        ),
    ),
    CodeClass(
        FailureClass.DOCUMENT,
        "our own file could not be read or sent: no recipient will get it until the document "
        "is fixed",
        frozenset(
            {
                C.FILEERROR,
                C.NOPAGE,
                C.BADTIFF,
                C.BADPAGE,
                C.BADTAG,
                C.BADTIFFHDR,
                C.NOMEM,
            }
        ),
    ),
)

_CLASS_OF = {code: group for group in CODE_CLASSES for code in group.codes}


def classify(code: T30Code) -> CodeClass | None:
    """The group a completion code belongs to; None for OK."""
    return _CLASS_OF.get(code)


@dataclass(frozen=True)
class FaxResult:
    """What one side of a fax session achieved, from its own T.30 engine's point of view."""

    success: bool
    code: T30Code
    code_text: str
    pages_total: int
    pages_transferred: int
    pages_confirmed: int
    bit_rate: int
    ecm: bool
    resolution: Resolution | None
    remote_ident: str
    duration_s: float
    t38: bool
    failure: FailureClass | None
    reason: str

    @property
    def retryable(self) -> bool:
        """Whether a later call can help (False after a success)."""
        return self.failure is not None and self.failure.retryable

    def summary(self) -> str:
        """One line for people: outcome, pages, speed and the far end."""
        failure = self.failure.value if self.failure else "?"
        verdict = "OK" if self.success else f"FAILED ({failure})"
        mode = "T.38" if self.t38 else "audio"
        ecm = "ECM" if self.ecm else "no ECM"
        res = self.resolution.value if self.resolution else "-"
        return (
            f"{verdict}: {self.code_text}; pages {self.pages_confirmed}/{self.pages_total} "
            f"confirmed, {self.bit_rate} bit/s, {ecm}, {res}, {mode}, "
            f"remote '{self.remote_ident}', {self.duration_s:.1f} line s"
        )
