"""Docket's guest SDK for Python plugins (componentize-py).

A plugin is a module defining one class per capability of its world
(``Routing``, ``Billing``, ...), subclassing the bindings componentize-py
generates from the WIT contract (``wit_world.exports``). This module adds
what the Rust SDK gives Rust plugins:

- ``@capability`` on such a class wraps every method so an uncaught
  exception reaches the run's trace as the guest's message (its traceback),
  through ``docket:plugin/log#panicking``, before the call fails.
- ``print()`` and ``sys.stderr`` write to the run's bounded log (at ``info``
  and ``error``): Docket offers no WASI, so there is no stdout.
- Exact money and time helpers on Python integers (the Rust SDK's
  arithmetic: explicit rounding, no floats, nothing past i64), and typed
  settings lookups.
"""

from __future__ import annotations

import functools
import sys
import traceback
from typing import Any, Callable, Iterable, Optional, Tuple, TypeVar

from wit_world.imports import log
from wit_world.imports.types import (
    Context,
    Decimal,
    FieldValue,
    FieldValue_Choice,
    FieldValue_Date,
    FieldValue_Integer,
    FieldValue_Money,
    FieldValue_Text,
    Money,
)

T = TypeVar("T", bound=type)

UP = "up"
DOWN = "down"
HALF_EVEN = "half-even"
HALF_UP = "half-up"

I64_MIN = -(2**63)
I64_MAX = 2**63 - 1


def describe_exception(error: BaseException) -> str:
    """The exception's type and message, then its traceback, innermost frame
    last. Frames are named without their source lines: reading those would
    need a filesystem, and a plugin has none."""
    head = "".join(traceback.format_exception_only(type(error), error)).strip()
    frames = traceback.StackSummary.extract(traceback.walk_tb(error.__traceback__), lookup_lines=False)
    lines = [f'  File "{f.filename}", line {f.lineno}, in {f.name}' for f in frames]
    return "\n".join([head, "Traceback (most recent call last):", *lines]) if lines else head


def _guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method``, reporting an exception's traceback to the host first."""

    @functools.wraps(method)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except BaseException as error:
            log.panicking(describe_exception(error))
            raise

    return guarded


def capability(cls: T) -> T:
    """Wraps each public method of a capability class so an exception
    reports its traceback to the host before the call fails."""
    for name, method in list(vars(cls).items()):
        if not name.startswith("_") and callable(method):
            setattr(cls, name, _guarded(method))
    return cls


class _LogStream:
    """A text stream whose lines go to the run's log at one level."""

    def __init__(self, level: log.Level) -> None:
        self._level = level
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            log.log(self._level, line)
        return len(text)

    def flush(self) -> None:
        if self._pending:
            log.log(self._level, self._pending)
            self._pending = ""

    def isatty(self) -> bool:
        return False


sys.stdout = _LogStream(log.Level.INFO)
sys.stderr = _LogStream(log.Level.ERROR)


def flush_output() -> None:
    """Sends a partial last line of ``print(..., end="")`` to the log."""
    sys.stdout.flush()
    sys.stderr.flush()


def div_round(num: int, den: int, rounding: str) -> int:
    """``num / den`` rounded as asked; ZeroDivisionError on a zero ``den``."""
    if den == 0:
        raise ZeroDivisionError("division by zero")
    if den < 0:
        num, den = -num, -den
    q, r = divmod(num, den)  # Python's divmod is Euclidean for den > 0.
    if r == 0:
        return q
    if rounding == DOWN:
        return q
    if rounding == UP:
        return q + 1
    if 2 * r < den:
        return q
    if 2 * r > den:
        return q + 1
    up = q % 2 != 0 if rounding == HALF_EVEN else q >= 0
    return q + 1 if up else q


def _fitting(amount: int, what: str) -> int:
    if not I64_MIN <= amount <= I64_MAX:
        raise OverflowError(f"money overflow: {what}")
    return amount


def money(amount_minor: int, currency: str) -> Money:
    """An amount in minor units."""
    return Money(amount_minor=amount_minor, currency=currency)


def format_money(m: Money) -> str:
    """``1234.50 EUR``, as the Rust SDK prints money."""
    sign = "-" if m.amount_minor < 0 else ""
    units, cents = divmod(abs(m.amount_minor), 100)
    return f"{sign}{units}.{cents:02d} {m.currency}"


def mul_ratio(m: Money, num: int, den: int, rounding: str) -> Money:
    """``m × num / den``, rounded once: the basis of rates and shares."""
    value = div_round(m.amount_minor * num, den, rounding)
    return money(_fitting(value, f"{format_money(m)} × {num} / {den}"), m.currency)


def times(m: Money, quantity: int) -> Money:
    """``m × quantity``."""
    return money(_fitting(m.amount_minor * quantity, f"{format_money(m)} × {quantity}"), m.currency)


def basis_points(m: Money, bps: int) -> Money:
    """A share in basis points (1/100 of a percent), rounded half-even."""
    return mul_ratio(m, bps, 10_000, HALF_EVEN)


def sum_money(currency: str, items: Iterable[Money]) -> Optional[Money]:
    """The sum in one currency, or None on a currency mismatch or overflow."""
    total = 0
    for m in items:
        if m.currency != currency:
            return None
        total += m.amount_minor
        if not I64_MIN <= total <= I64_MAX:
            return None
    return money(total, currency)


def round_to_increment(value: int, increment: int, rounding: str) -> int:
    """Rounds ``value`` to a multiple of ``increment`` (e.g. minutes to 15)."""
    return div_round(value, increment, rounding) * increment


def whole(value: int) -> Decimal:
    """A whole-number decimal."""
    return Decimal(mantissa=value, scale=0)


def hours_from_minutes(minutes: int) -> Decimal:
    """A quantity of hours from minutes, exact to 1/100 h for quarter hours."""
    return Decimal(mantissa=div_round(minutes * 100, 60, HALF_EVEN), scale=2)


MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS


def local_hour_and_weekday(instant: int, utc_offset_minutes: int) -> Tuple[int, int]:
    """The hour of day (0..24) and ISO weekday (1 = Monday .. 7 = Sunday) of
    an instant shifted by a fixed offset in minutes."""
    day, ms = divmod(instant + utc_offset_minutes * MINUTE_MS, DAY_MS)
    # 1970-01-01 was a Thursday (ISO 4).
    return ms // HOUR_MS, (day + 3) % 7 + 1


def setting(ctx: Context, key: str) -> Optional[FieldValue]:
    """A setting's value, if the tenant set it."""
    return next((s.value for s in ctx.settings if s.key == key), None)


def setting_integer(ctx: Context, key: str, default: int) -> int:
    """An integer setting, or the default."""
    v = setting(ctx, key)
    return v.value if isinstance(v, FieldValue_Integer) else default


def setting_text(ctx: Context, key: str, default: str) -> str:
    """A text (or choice, or date) setting, or the default."""
    v = setting(ctx, key)
    return v.value if isinstance(v, (FieldValue_Text, FieldValue_Choice, FieldValue_Date)) else default


def setting_money(ctx: Context, key: str, default: Money) -> Money:
    """A money setting, or the default."""
    v = setting(ctx, key)
    return v.value if isinstance(v, FieldValue_Money) else default


def clamp(value: int, lo: int, hi: int) -> int:
    """``value`` clamped to ``[lo, hi]``."""
    return max(lo, min(value, hi))
