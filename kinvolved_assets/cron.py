"""Cron expressions of customer schedules: 5 fields (numbers, names, ``*``, ``,``, ``-``, ``/``),
ASCII, and accepted by Dagster's scheduler (so a schedule never stops the code location)."""

from __future__ import annotations

from kinvolved_assets.config_yaml import printable

_CRON_FIELDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_CRON_NAMES = {
    3: {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())},
    4: {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())},
}


def check_cron(expr: str) -> str:
    """Validate a 5-field cron expression (numbers, names, ``*``, ``,``, ``-``, ``/``)."""
    if not expr.isascii() or not expr.isprintable() or len(expr) > 200:
        raise ValueError(f"cron {printable(expr)} must be ASCII text on one line, e.g. \"0 5 * * mon-fri\"")
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"cron {expr!r} must have 5 fields (minute hour day month weekday), got "
                         f"{len(fields)}")
    for index, (text, (low, high)) in enumerate(zip(fields, _CRON_FIELDS, strict=True)):
        names = _CRON_NAMES.get(index, {})
        for part in text.split(","):
            rng, _, step = part.partition("/")
            if step and (not step.isdigit() or int(step) == 0):
                raise ValueError(f"cron {expr!r}: bad step {step!r} in field {index + 1}")
            if rng == "*":
                continue
            bounds = rng.split("-")
            if len(bounds) > 2:
                raise ValueError(f"cron {expr!r}: bad range {rng!r} in field {index + 1}")
            for bound in bounds:
                value = names.get(bound.lower()) if bound.lower() in names else (int(bound)
                                                                                 if bound.isdigit() else None)
                if value is None or not low <= value <= high:
                    raise ValueError(f"cron {expr!r}: {bound!r} is outside {low}-{high} in field {index + 1}")
    if not _scheduler_accepts(expr):
        raise ValueError(f"cron {expr!r} is refused by the scheduler (a date that never comes, such as 31 "
                         "February?)")
    return expr


def _scheduler_accepts(expr: str) -> bool:
    """Dagster's own cron check (what a schedule needs), when it is importable."""
    try:
        from dagster._utils.schedules import is_valid_cron_schedule
    except ImportError:  # pragma: no cover - the check above still holds
        return True
    try:
        return bool(is_valid_cron_schedule(expr))
    except Exception:  # noqa: BLE001
        return False
