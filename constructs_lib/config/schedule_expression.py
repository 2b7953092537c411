"""EventBridge Scheduler's schedule expressions, checked offline with the rules its guide documents.

A schedule with an expression Scheduler rejects fails ``cdk deploy`` after the rest of the stack was
built, and one that is valid but means something else (``cron(0 3 * * * *)``) fails there too. So synth
checks the three forms of "Schedule types on EventBridge Scheduler"
(https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html):

* ``at(yyyy-mm-ddThh:mm:ss)``: a one-time schedule;
* ``rate(value unit)``: "value - A positive number", unit ``minute | minutes | hour | hours | day |
  days``; a value of 1 takes the singular unit and a larger value the plural (the same guide's examples,
  and EventBridge's "Using cron and rate expressions": "If the value is equal to 1, then the unit must be
  singular ... If the value is greater than 1, the unit must be plural",
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html);
* ``cron(minutes hours day-of-month month day-of-week year)``: six fields with the values and wildcards of
  ``CRON_FIELDS``; "You can't use * in both the Day-of-month and Day-of-week fields. If you use it in one,
  you must use ? in the other", and a value in one likewise needs ``?`` in the other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

RATE = re.compile(r"^rate\((?P<value>\d+) (?P<unit>minutes?|hours?|days?)\)$")
AT = re.compile(r"^at\((?P<when>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
CRON = re.compile(r"^cron\((?P<fields>[^()]*)\)$")
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
VALID_FORMS = (
    "cron(minutes hours day-of-month month day-of-week year), rate(<n> minute[s]|hour[s]|day[s]) "
    "or at(yyyy-mm-ddThh:mm:ss)"
)


@dataclass(frozen=True)
class CronField:
    """One field of a cron expression: its name, value range, names and allowed special characters."""

    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    specials: str = ""


CRON_FIELDS = (
    CronField("minutes", 0, 59),
    CronField("hours", 0, 23),
    CronField("day-of-month", 1, 31, specials="?LW"),
    CronField("month", 1, 12, MONTHS),
    CronField("day-of-week", 1, 7, DAYS, specials="?L#"),
    CronField("year", 1970, 2199),
)
"""The guide's table: Minutes 0-59, Hours 0-23, Day-of-month 1-31 (``? L W``), Month 1-12 or JAN-DEC,
Day-of-week 1-7 or SUN-SAT (``? L #``), Year 1970-2199; every field takes ``, - * /``."""


class ScheduleExpressionError(ValueError):
    """The expression is not one EventBridge Scheduler accepts; the message says what is wrong."""


def check_schedule_expression(expression: str) -> str:
    """Return ``expression`` when Scheduler accepts it.

    Raises:
        ScheduleExpressionError: naming the part that is wrong and the valid forms.
    """
    expression = expression.strip()
    if expression.startswith("rate("):
        _check_rate(expression)
    elif expression.startswith("at("):
        _check_at(expression)
    elif expression.startswith("cron("):
        _check_cron(expression)
    else:
        raise ScheduleExpressionError(f"{expression!r} is not a schedule expression; use {VALID_FORMS}")
    return expression


def _check_rate(expression: str) -> None:
    match = RATE.match(expression)
    if match is None:
        raise ScheduleExpressionError(
            f"{expression!r}: a rate is rate(<positive whole number> <unit>), unit minute(s), hour(s) or day(s)"
        )
    value, unit = int(match["value"]), match["unit"]
    if value < 1:
        raise ScheduleExpressionError(f"{expression!r}: the rate must be a positive number")
    if (value == 1) == unit.endswith("s"):
        singular = unit.removesuffix("s")
        expected = f"rate(1 {singular})" if value == 1 else f"rate({value} {singular}s)"
        raise ScheduleExpressionError(f"{expression!r}: write {expected} (1 takes the singular unit, more the plural)")


def _check_at(expression: str) -> None:
    match = AT.match(expression)
    try:
        if match is None:
            raise ValueError
        datetime.strptime(match["when"], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise ScheduleExpressionError(f"{expression!r}: a one-time schedule is at(yyyy-mm-ddThh:mm:ss)") from None


def _check_cron(expression: str) -> None:
    match = CRON.match(expression)
    fields = match["fields"].split() if match else []
    if len(fields) != len(CRON_FIELDS):
        raise ScheduleExpressionError(
            f"{expression!r}: a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), "
            f"got {len(fields)}; e.g. cron(0 3 * * ? *) for 03:00 every day"
        )
    for field, text in zip(CRON_FIELDS, fields, strict=True):
        problem = _field_problem(field, text)
        if problem:
            raise ScheduleExpressionError(f"{expression!r}: {field.name} {text!r}: {problem}")
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ScheduleExpressionError(
            f"{expression!r}: exactly one of day-of-month ({day_of_month}) and day-of-week ({day_of_week}) must be "
            "?; e.g. cron(0 3 * * ? *) every day, cron(0 3 ? * MON *) on Mondays"
        )


def _field_problem(field: CronField, text: str) -> str | None:
    """What is wrong with one field, or None."""
    if text == "?":
        return None if "?" in field.specials else "? is allowed only in day-of-month and day-of-week"
    if "#" in text and field.name != "day-of-week":
        return "# is allowed only in day-of-week"
    if field.name == "day-of-month" and ("L" in text or text.endswith("W")):
        return _day_of_month_special(text)
    if field.name == "day-of-week" and ("#" in text or text.endswith("L")):
        return _day_of_week_special(field, text)
    for part in text.split(","):
        problem = _part_problem(field, part)
        if problem:
            return problem
    return None


def _day_of_month_special(text: str) -> str | None:
    """``L`` (last day), ``LW`` (last weekday) and ``nW`` (weekday nearest day n)."""
    if text in ("L", "LW"):
        return None
    day = text.removesuffix("W")
    if text.endswith("W") and day.isdigit() and 1 <= int(day) <= 31:
        return None
    return "day-of-month takes L, LW or nW (n 1-31) as its special forms"


def _day_of_week_special(field: CronField, text: str) -> str | None:
    """``nL`` (last such day of the month) and ``day#n`` (n-th such day, n 1-5)."""
    if "#" in text:
        day, _, nth = text.partition("#")
        if _value(field, day) is not None and nth.isdigit() and 1 <= int(nth) <= 5:
            return None
        return "day#n needs a day of the week and n from 1 to 5 (e.g. 3#2)"
    day = text.removesuffix("L")
    return None if day == "" or _value(field, day) is not None else "nL needs a day of the week (e.g. 6L)"


def _part_problem(field: CronField, part: str) -> str | None:
    """One comma-separated part: ``*``, a value, a range, each optionally ``/step``."""
    base, slash, step = part.partition("/")
    if slash and not (step.isdigit() and int(step) >= 1):
        return f"the increment after / must be a positive whole number (got {step!r})"
    if base == "*":
        return None
    low, dash, high = base.partition("-")
    for value in (low, high) if dash else (low,):
        if _value(field, value) is None:
            named = f" or {field.names[0]}-{field.names[-1]}" if field.names else ""
            return f"{value!r} is not a value {field.low}-{field.high}{named}"
    return None


def _value(field: CronField, text: str) -> int | None:
    """The number a field value stands for (names included), or None when it is not one."""
    if text.upper() in field.names:
        return field.names.index(text.upper()) + field.low
    if text.isdigit() and field.low <= int(text) <= field.high:
        return int(text)
    return None
