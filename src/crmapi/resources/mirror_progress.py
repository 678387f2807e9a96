"""The progress of ``crmapi import --from``: one line per resource, rewritten in place as
its pages arrive (plain text on stderr: rich is not a dependency), and a summary line."""

import time
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class Lines:
    out: TextIO
    quiet: bool = False
    current: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def update(self, name: str, count: int) -> None:
        if name != self.current and self.current is not None and not self.quiet:
            self.out.write("\n")
        self.current = name
        self.counts[name] = count
        if not self.quiet:
            rate = count / max(time.perf_counter() - self.started, 1e-6)
            self.out.write(f"\r{name:<24} {count:>9} read  [{'#' * min(count // 100, 30):<30}]"
                           f" {rate:,.0f}/s")  # fmt: skip
            self.out.flush()

    def close(self) -> None:
        if not self.quiet:
            done = ", ".join(f"{k} {v}" for k, v in self.counts.items())
            self.out.write(f"\nread: {done or 'nothing changed'}\n")
            self.out.flush()
