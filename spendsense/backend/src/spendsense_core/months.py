"""Calendar-month arithmetic on `date`s."""

from __future__ import annotations

from datetime import date, timedelta

__all__ = ["month_label", "month_start", "month_end"]


def month_start(day: date, months_back: int = 0) -> date:
    """The 1st of `day`'s month, or of the month `months_back` months before it."""
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def month_end(day: date) -> date:
    """The last day of `day`'s month."""
    return month_start(day, -1) - timedelta(days=1)


def month_label(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"
