"""A user-written strategy, importable as ``tests.robustness.plugin:RetentionOnly``."""

from __future__ import annotations

CALLS: list[int] = []


class RetentionOnly:
    """Spend the allowance on cross-selling to people in retention."""

    def __init__(self, gap: int = 14):
        self.name = "retention_only"
        self.gap = gap

    def tactics(self) -> set[str]:
        return {"cross_sell"}

    def decide(self, view) -> None:
        CALLS.append(view.day)
        people = view.people_in(["retention"], min_gap_days=self.gap)
        view.contact("cross_sell", people, view.allowance())
