"""`llmos doctor`: check a deployment's configuration and every service it depends on, and say how to fix
what is wrong.

Each check returns findings: what was looked at, whether it is right, and for a problem the fix. The
command prints them all (it does not stop at the first problem) and exits 1 when any is a problem.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TextIO


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    ok: bool
    detail: str
    fix: str = ""

    def lines(self) -> list[str]:
        mark = "ok  " if self.ok else "FAIL"
        out = [f"{mark} {self.check}: {self.detail}"]
        if self.fix:
            out.append(f"     fix: {self.fix}")
        return out


def good(check: str, detail: str) -> Finding:
    return Finding(check, True, detail)


def bad(check: str, detail: str, fix: str) -> Finding:
    return Finding(check, False, detail, fix)


Check = Callable[[], Iterable[Finding]]


def run(checks: Iterable[tuple[str, Check]], out: TextIO) -> int:
    """Run every check (a crash in one is a finding, not the end), print the findings; 1 if any failed."""
    failed = False
    for name, check in checks:
        try:
            findings = list(check())
        except Exception as exc:  # a check that breaks must not hide the others' results
            findings = [bad(name, f"the check itself failed: {type(exc).__name__}: {exc}", "report this as a bug")]
        for finding in findings:
            failed |= not finding.ok
            for line in finding.lines():
                print(line, file=out)
    print("Something is wrong: see FAIL above." if failed else "Everything checked is fine.", file=out)
    return 1 if failed else 0
