"""Fault rules: which requests (or webhook deliveries) misbehave, when, and how.

A rule is ``{"id", "match", "trigger", "effect"}``. Rules are evaluated in order, the
organization's own before the global ones; the first rule that matches *and* whose trigger
fires is applied, and no other. Each rule counts how often it was evaluated, matched and
fired. State is per server process, like the journal.
"""

import fnmatch
import itertools
import math
import random
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crmapi.domain.errors import InvalidRequest
from crmapi.emulator import criteria
from crmapi.util import dates

REQUEST_EFFECTS = frozenset(
    {"rate_limit", "status", "latency", "timeout", "drop", "truncate", "malformed", "page_drift"}
)
WEBHOOK_MODES = ("duplicate", "delay", "reorder")
EFFECT_KEYS: dict[str, frozenset[str]] = {
    "rate_limit": frozenset({"reset", "limit", "window", "limit_type"}),
    "status": frozenset({"status", "message", "errors", "field_errors"}),
    "latency": frozenset({"ms", "dist", "min", "max", "median", "sigma"}),
    "timeout": frozenset({"seconds"}),
    "drop": frozenset(),
    "truncate": frozenset({"fraction"}),
    "malformed": frozenset(),
    "page_drift": frozenset({"mode"}),
    "webhook": frozenset({"mode", "seconds"}),
}
MATCH_KEYS = frozenset(
    {
        "api_key",
        "group",
        "method",
        "path",
        "query",
        "operation",
        "subscription_id",
        "object_type",
        "action",
    }
)
TRIGGER_KEYS = frozenset({"next", "every", "after", "probability", "seed", "window"})
CLOSE_STATUSES = frozenset({400, 401, 402, 403, 404, 405, 409, 413, 415, 429, 500, 502, 503, 504})
MAX_HOLD_SECONDS = 600.0


@dataclass
class Rule:
    id: str
    match: dict[str, Any]
    trigger: dict[str, Any]
    effect: dict[str, Any]
    scope: str  # "org" or "global"
    evaluated: int = 0
    matched: int = 0
    fired: int = 0
    rng: random.Random = field(default_factory=random.Random)
    # page_drift: listing -> how far its later pages are shifted (a pass restarts at _skip=0)
    drift: dict[str, int] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return str(self.effect["kind"])

    @property
    def exhausted(self) -> bool:
        limit = self.trigger.get("next")
        return limit is not None and self.fired >= int(limit)

    def render(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scope": self.scope,
            "match": self.match,
            "trigger": self.trigger,
            "effect": self.effect,
            "evaluated": self.evaluated,
            "matched": self.matched,
            "fired": self.fired,
            "exhausted": self.exhausted,
        }


def _bad(where: str, message: str) -> InvalidRequest:
    return InvalidRequest(field_errors={where: message})


def _number(value: Any, where: str, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise _bad(where, f"Must be a number >= {minimum:g}.")
    return float(value)


def _check_effect(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or raw.get("kind") not in EFFECT_KEYS:
        raise _bad("effect", f"effect.kind must be one of {sorted(EFFECT_KEYS)}.")
    kind = raw["kind"]
    unknown = set(raw) - {"kind"} - EFFECT_KEYS[kind]
    if unknown:
        raise _bad("effect", f"Unknown keys for {kind}: {sorted(unknown)}.")
    for key in ("reset", "limit", "window", "ms", "min", "max", "median", "seconds"):
        if key in raw:
            _number(raw[key], f"effect.{key}")
    if kind == "status" and raw.get("status") not in CLOSE_STATUSES:
        raise _bad("effect.status", f"One of Close's statuses: {sorted(CLOSE_STATUSES)}.")
    if kind == "latency":
        dist = raw.get("dist", "fixed")
        if dist not in ("fixed", "uniform", "lognormal"):
            raise _bad("effect.dist", "fixed, uniform or lognormal.")
        if dist == "fixed" and "ms" not in raw:
            raise _bad("effect.ms", "Fixed latency needs ms.")
    if kind == "truncate" and "fraction" in raw and not 0 <= raw["fraction"] < 1:
        raise _bad("effect.fraction", "Between 0 and 1 (the share of the body sent).")
    if kind == "page_drift" and raw.get("mode", "delete") not in ("delete", "insert"):
        raise _bad("effect.mode", "delete or insert.")
    if kind == "webhook" and raw.get("mode") not in WEBHOOK_MODES:
        raise _bad("effect.mode", f"One of {', '.join(WEBHOOK_MODES)}.")
    return dict(raw)


def _check_trigger(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or set(raw) - TRIGGER_KEYS:
        raise _bad("trigger", f"An object with keys among {sorted(TRIGGER_KEYS)}.")
    for key in ("next", "every", "after"):
        if key in raw and (
            not isinstance(raw[key], int) or raw[key] < (0 if key == "after" else 1)
        ):
            raise _bad(f"trigger.{key}", "A whole number (next and every at least 1).")
    if "probability" in raw and not 0 <= _number(raw["probability"], "trigger.probability") <= 1:
        raise _bad("trigger.probability", "Between 0 and 1.")
    window = raw.get("window")
    if window is not None:
        if not isinstance(window, dict) or not set(window) <= {"from", "to"}:
            raise _bad("trigger.window", 'An object {"from", "to"} of datetimes.')
        try:
            for key, value in window.items():
                window[key] = dates.parse(str(value))
        except ValueError:
            raise _bad("trigger.window", "from and to must be ISO 8601 datetimes.") from None
    return dict(raw)


def _check_match(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or set(raw) - MATCH_KEYS:
        raise _bad("match", f"An object with keys among {sorted(MATCH_KEYS)}.")
    query = raw.get("query", {})
    if not isinstance(query, dict):
        raise _bad("match.query", "An object of matchers.")
    for name, m in query.items():
        criteria.check(m, f"match.query.{name}")
    return dict(raw)


_ids = itertools.count(1)


def parse_rule(raw: Any, scope: str) -> Rule:
    if not isinstance(raw, dict):
        raise InvalidRequest(["A fault rule is an object with match, trigger and effect."])
    unknown = set(raw) - {"id", "match", "trigger", "effect"}
    if unknown:
        raise InvalidRequest([f"Unknown keys in a fault rule: {sorted(unknown)}."])
    trigger = _check_trigger(raw.get("trigger"))
    rule_id = raw.get("id") or f"fault_{next(_ids)}"
    if not isinstance(rule_id, str) or len(rule_id) > 100:
        raise _bad("id", "A string of at most 100 characters.")
    return Rule(
        id=rule_id,
        match=_check_match(raw.get("match")),
        trigger=trigger,
        effect=_check_effect(raw.get("effect")),
        scope=scope,
        rng=random.Random(trigger.get("seed", 0)),
    )


@dataclass(frozen=True)
class Seen:
    """What a rule's ``match`` is compared with: a request, or a webhook delivery."""

    org: str
    api_key_id: str | None = None
    group: str = ""
    method: str = ""
    path: str = ""
    operation: str = ""
    query: Mapping[str, str] = field(default_factory=dict)
    subscription_id: str = ""
    object_type: str = ""
    action: str = ""


def _matches(rule: Rule, seen: Seen) -> bool:
    m = rule.match
    if "api_key" in m and m["api_key"] != seen.api_key_id:
        return False
    for key in ("group", "operation", "subscription_id", "object_type", "action"):
        if key in m and not criteria.match(m[key], getattr(seen, key)):
            return False
    if "method" in m and str(m["method"]).upper() != seen.method:
        return False
    if "path" in m and not fnmatch.fnmatchcase(seen.path, str(m["path"])):
        return False
    return all(
        criteria.match(matcher, seen.query.get(name, criteria.MISSING))
        for name, matcher in m.get("query", {}).items()
    )


def _triggered(rule: Rule, now: datetime | None) -> bool:
    t = rule.trigger
    count = rule.matched - int(t.get("after", 0))
    if count <= 0:
        return False
    if t.get("every") and count % int(t["every"]):
        return False
    if rule.exhausted:
        return False
    window = t.get("window")
    if window is not None and now is not None:
        stamp = dates.canonical(now)
        if stamp < window.get("from", "") or ("to" in window and stamp >= window["to"]):
            return False
    return not ("probability" in t and rule.rng.random() >= float(t["probability"]))


class Faults:
    """Every organization's rules and the global ones."""

    def __init__(self) -> None:
        self.orgs: dict[str, list[Rule]] = {}
        self.global_rules: list[Rule] = []
        # Requests are evaluated on the event loop, webhook deliveries in the worker thread.
        self._lock = threading.Lock()

    def any(self) -> bool:
        return bool(self.global_rules) or any(self.orgs.values())

    def rules(self, org: str | None) -> list[Rule]:
        if org is None:
            return self.global_rules
        if org not in self.orgs:
            self.orgs[org] = []
        return self.orgs[org]

    def add(self, org: str | None, raw: Any) -> Rule:
        rule = parse_rule(raw, "global" if org is None else "org")
        rules = self.rules(org)
        if any(r.id == rule.id for r in rules):
            raise _bad("id", f"A rule {rule.id!r} exists already.")
        rules.append(rule)
        return rule

    def replace(self, org: str | None, raws: Iterable[Any]) -> list[Rule]:
        scope = "global" if org is None else "org"
        parsed = [parse_rule(raw, scope) for raw in raws]
        if len({r.id for r in parsed}) != len(parsed):
            raise _bad("id", "Rule ids must be unique.")
        self.rules(org)[:] = parsed
        return parsed

    def find(self, org: str | None, rule_id: str) -> Rule | None:
        return next((r for r in self.rules(org) if r.id == rule_id), None)

    def remove(self, org: str | None, rule_id: str) -> bool:
        rules = self.rules(org)
        kept = [r for r in rules if r.id != rule_id]
        removed = len(kept) != len(rules)
        rules[:] = kept
        return removed

    def candidates(self, org: str, webhook: bool) -> list[Rule]:
        ordered = [*self.orgs.get(org, ()), *self.global_rules]
        return [r for r in ordered if (r.kind == "webhook") == webhook]

    def pick(
        self,
        seen: Seen,
        now: datetime | None,
        forced: str | None = None,
        webhook: bool = False,
        later_page: bool = False,
    ) -> Rule | None:
        """The rule to apply to ``seen``, its counters updated; ``forced`` (the
        ``x-crmapi-fault`` header) fires that rule once whatever its trigger says."""
        with self._lock:
            return self._pick(seen, now, forced, webhook, later_page)

    def _pick(
        self,
        seen: Seen,
        now: datetime | None,
        forced: str | None,
        webhook: bool,
        later_page: bool,
    ) -> Rule | None:
        for rule in self.candidates(seen.org, webhook):
            if rule.kind == "page_drift" and not later_page:
                continue  # drift happens between two pages: the first page is not a chance
            if forced is not None:
                if rule.id == forced:
                    rule.evaluated += 1
                    rule.matched += 1
                    rule.fired += 1
                    return rule
                continue
            rule.evaluated += 1
            if not _matches(rule, seen):
                continue
            rule.matched += 1
            if _triggered(rule, now):
                rule.fired += 1
                return rule
        return None

    def drifting(self, seen: Seen, skip: int, listing: str, now: datetime | None) -> Rule | None:
        """page_drift: a pass that started drifting keeps drifting on its later pages."""
        for rule in self.candidates(seen.org, webhook=False):
            if rule.kind != "page_drift" or not _matches(rule, seen):
                continue
            if skip == 0:
                rule.drift.pop(listing, None)
            elif listing in rule.drift:
                return rule
        return None

    def load(self, doc: Any) -> None:
        """A startup file: a list of global rules, or {"global": [...], "orgs": {id: [...]}}."""
        if isinstance(doc, list):
            doc = {"global": doc}
        if not isinstance(doc, dict):
            raise ValueError("CRMAPI_FAULTS_FILE holds a list of rules or {global, orgs}")
        self.replace(None, doc.get("global", []))
        for org, raws in (doc.get("orgs") or {}).items():
            self.replace(str(org), raws)


def latency_ms(rule: Rule) -> float:
    e = rule.effect
    dist = e.get("dist", "fixed")
    if dist == "uniform":
        value = rule.rng.uniform(float(e.get("min", 0)), float(e.get("max", 1000)))
    elif dist == "lognormal":
        value = rule.rng.lognormvariate(
            math.log(float(e.get("median", 100))), float(e.get("sigma", 0.5))
        )
    else:
        value = float(e["ms"])
    return min(value, float(e.get("max", MAX_HOLD_SECONDS * 1000)))
