"""Markdown tables, target checks and the PNG plot from one bench run's results."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _ms(us: float) -> str:
    return f"{us / 1000:.1f}"


def _cost(ms: float | None) -> str:
    return "no page completed" if not ms or ms > 1e6 else f"{ms:.2f}"


def _ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "–"
    return f"{a / b:.2f}"


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "# Performance",
        "",
        "Produced by `make bench` (`bench/run.py`); do not edit by hand. The method, the",
        "targets and the analysis of each miss are in the notes at the end of this file.",
        "",
        f"- Date: {m['date']}, commit `{m['commit']}`",
        f"- Command: `{results['command']}`",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM, {m['os']}",
        f"- Versions: Python {m['python']}, SQLite {m['sqlite']}, PostgreSQL "
        f"{m.get('postgres', 'not run')}, SQLAlchemy {m['sqlalchemy']}, Starlette "
        f"{m['starlette']}, uvicorn {m['uvicorn']}, orjson {m['orjson']}, {m['datasette']}, "
        f"{m['wrk']}",
        f"- Load: {results['loader']}, 32 connections for reads, 16 for writes; "
        f"{results['config']['rounds']} rounds of {results['config']['seconds']} s per query "
        "per target, interleaved; medians reported.",
        "",
    ]
    for backend, data in results["backends"].items():
        lines += _backend(backend, data)
    lines += targets(results)
    notes = Path(__file__).with_name("NOTES.md")
    if notes.exists():
        lines += ["", notes.read_text().rstrip(), ""]
    return "\n".join(lines) + "\n"


def _backend(backend: str, data: dict[str, Any]) -> list[str]:
    if "skipped" in data:
        return [f"## {backend}", "", f"Skipped: {data['skipped']}", ""]
    seed = data["seed"]
    lines = [
        f"## {backend}: {data['size']:,} activities",
        "",
        f"Seeded by `crmapi seed` ({seed['activities']:,} activities in "
        f"{len(seed['organizations'])} organizations at {seed['activities_per_second']:,}/s); "
        f"lead page on `{data['lead']}`.",
        "",
        "| query | target | req/s | p50 ms | p99 ms | server CPU ms/req | vs strict floor "
        "| vs parsing floor | vs Datasette |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in data["reads"].items():
        floor = row["floor"]["rps"]
        strict = row.get("strict", {}).get("rps")
        peer = row.get("datasette", {}).get("rps")
        label = data["queries"][name]
        sql = row["floor"].get("sql_ms")
        alone = f"; SQL alone {sql:.2f} ms" if sql else ""
        if strict:
            lines.append(f"| {label} | strict floor (in-process, data as text) | {strict:.0f} "
                         f"| {row['strict']['ms']:.2f} | – | – | 1.00 "
                         f"| {_ratio(strict, floor)} | – |")  # fmt: skip
            label = ""
        lines.append(f"| {label} | parsing floor (in-process{alone}) | {floor:.0f} "
                     f"| {row['floor']['ms']:.2f} | – | – | {_ratio(floor, strict)} | 1.00 "
                     "| – |")  # fmt: skip
        for target, res in row.items():
            if target in ("floor", "strict"):
                continue
            shown = "Datasette" if target == "datasette" else f"crmapi {target}"
            vs_peer = _ratio(res["rps"], peer) if target != "datasette" else "1.00"
            lines.append(
                f"| | {shown} | {res['rps']:.0f} | {_ms(res['p50_us'])} | {_ms(res['p99_us'])} "
                f"| {res['cpu_ms_per_req']:.2f} | {_ratio(res['rps'], strict)} "
                f"| {_ratio(res['rps'], floor)} | {vs_peer} |"
            )
    lines += ["", "Writes (POST /activity/note/ and /activity/call/ alternating, 16 connections):"]
    lines += [""]
    lines += ["| server | req/s | p50 ms | p99 ms | errors |", "|---|---:|---:|---:|---:|"]
    for target, res in data["writes"].items():
        lines.append(
            f"| crmapi {target} | {res['rps']:.0f} | {_ms(res['p50_us'])} | {_ms(res['p99_us'])} "
            f"| {res['errors']} |"
        )
    lines += ["", f'"database is locked" in server logs: {data["locked_in_logs"]}', ""]
    if data.get("skips"):
        lines += ["Cost of an org-wide page against `_skip` (1 worker, ms per request):", ""]
        lines += [
            "| _skip | crmapi ms | strict floor ms | parsing floor ms | strict floor / crmapi |",
            "|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {s['skip']} | {_cost(s['ms'])} "
            f"| {_cost(s['strict_ms']) if 'strict_ms' in s else '–'} "
            f"| {s['floor_ms']:.2f} | {_ratio(s.get('strict_ms'), s['ms'])} |"
            for s in data["skips"]
        ]
        lines.append("")
    if data.get("sequential"):
        lines += [
            "Sequential paging: one client walking the org-wide feed with `_skip += 100` from 0, "
            "asking for `_skip=0` again after every page (median wall ms of the 20 pages ending "
            "at each `_skip`, and of the `_skip=0` pages between them; pages after the first are "
            "sought from the previous page's end):",
            "",
            "| _skip | ms per page | _skip=0 ms, same moments | ratio |",
            "|---:|---:|---:|---:|",
        ]
        for s in data["sequential"]:
            first = s.get("first_ms") or data["sequential"][0]["ms"]
            lines.append(f"| {s['skip']} | {s['ms']:.2f} | {first:.2f} | {s['ms'] / first:.2f}x |")
        lines.append("")
    if data.get("sizes"):
        lines += ["Cost of a page against dataset size (1 worker, ms per request):", ""]
        lines += ["| activities | lead page | org-wide page |", "|---:|---:|---:|"]
        lines += [
            f"| {s['size']:,} | {s['lead']:.2f} | {s['org_window']:.2f} |" for s in data["sizes"]
        ]
        lines.append("")
    if data.get("soak"):
        s = data["soak"]
        lines += [
            f"Soak: {s['seconds']:.0f} s of lead pages at 32 connections ({s['rps']:.0f} req/s, "
            f"{s['errors']} errors); server private RSS (RssAnon) {s['rss_start']:.0f} MB at "
            f"start, {s['rss_max']:.0f} MB max, {s['rss_end']:.0f} MB at end, trend "
            f"{s['slope_mb_per_min']:+.2f} MB/min after warm-up"
            + (
                f"; VmRSS including the SQLite file mapped by each pooled connection "
                f"{s['vmrss_max']:.0f} MB max."
                if "vmrss_max" in s
                else "."
            ),
            "",
        ]
    return lines


def ceiling(one: dict[str, Any], cores: int) -> float:
    """The most any number of workers could gain over one on this machine: every request
    costs the server's, the load generator's and the database server's CPU, and the cores
    are shared by all three."""
    per_request_ms = (
        one["cpu_ms_per_req"]
        + one.get("client_cpu_ms_per_req", 0)
        + one.get("db_cpu_ms_per_req", 0)
    )
    if per_request_ms <= 0 or not one["rps"]:
        return float("nan")
    return float(cores * 1000 / per_request_ms / one["rps"])


def targets(results: dict[str, Any]) -> list[str]:
    """The issue's targets, checked against this run (single worker unless stated)."""
    lines = ["## Targets", "", "| backend | target | measured | met |", "|---|---|---|---|"]
    for backend, data in results["backends"].items():
        if "reads" not in data:
            continue
        reads = data["reads"]

        def add(target: str, measured: str, ok: bool, backend: str = backend) -> None:
            lines.append(f"| {backend} | {target} | {measured} | {'yes' if ok else '**no**'} |")

        def ratio(q: str, reads: dict[str, Any] = reads) -> float:
            floor = reads[q].get("strict") or reads[q]["floor"]
            return float(reads[q]["1w"]["rps"] / floor["rps"])

        which = "strict floor" if "strict" in reads["lead"] else "parsing floor"
        add(f"lead page >= 0.80 of {which}", f"{ratio('lead'):.2f}", ratio("lead") >= 0.8)
        add(f"org page >= 0.75 of {which}", f"{ratio('org_window'):.2f}",
            ratio("org_window") >= 0.75)  # fmt: skip
        add(f"_fields page >= 0.80 of {which}", f"{ratio('lead_fields'):.2f}",
            ratio("lead_fields") >= 0.8)  # fmt: skip
        full, slim = reads["lead"]["1w"]["rps"], reads["lead_fields"]["1w"]["rps"]
        add("_fields page faster than full", f"{slim:.0f} vs {full:.0f} req/s", slim > full)
        for q, r in reads.items():
            tail = r["1w"]["p99_us"] / max(r["1w"]["p50_us"], 1)
            add(f"p99 <= 3x p50 ({q})", f"{tail:.2f}x", tail <= 3)
        cores = int(results["machine"]["cores"])
        for q, r in reads.items():
            if "2w" not in r:
                continue
            scale = r["2w"]["rps"] / r["1w"]["rps"]
            add(f"2 workers >= 1.6x one ({q})",
                f"{scale:.2f}x (machine ceiling {ceiling(r['1w'], cores):.2f}x)",
                scale >= 1.6)  # fmt: skip
        for q, r in reads.items():
            if "datasette" in r:
                ahead = r["1w"]["rps"] / r["datasette"]["rps"]
                add(f"ahead of Datasette ({q})", f"{ahead:.2f}x", ahead > 1)
        errors = sum(w["errors"] for w in data["writes"].values())
        add("write mix: 0 errors, no 'database is locked'",
            f"{errors} errors, {data['locked_in_logs']} locked",
            errors == 0 and data["locked_in_logs"] == 0)  # fmt: skip
        seq = data.get("sequential") or []
        if seq and seq[-1].get("first_ms"):
            deep = seq[-1]
            cost = deep["ms"] / deep["first_ms"]
            add(f"sequential page at _skip={deep['skip']:,} within 2x of _skip=0",
                f"{cost:.2f}x", cost <= 2)  # fmt: skip
        sizes = data.get("sizes")
        if sizes and len(sizes) > 1:
            growth = max(sizes[-1][q] / sizes[0][q] for q in ("lead", "org_window"))
            add("page cost at 1M <= 1.3x of 10k", f"{growth:.2f}x", growth <= 1.3)
        if data.get("soak"):
            s = data["soak"]
            add("RSS < 250 MB through the soak, no growth",
                f"max {s['rss_max']:.0f} MB, {s['slope_mb_per_min']:+.2f} MB/min",
                s["rss_max"] < 250 and s["slope_mb_per_min"] < 1)  # fmt: skip
    return lines + [""]


def plot(results: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib
    except ImportError:  # the bench extra is not installed: tables only
        print("matplotlib not installed: no plot", flush=True)
        return

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = results["backends"].get("sqlite", {})
    sizes, skips = data.get("sizes") or [], data.get("skips") or []
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    if sizes:
        xs = [s["size"] for s in sizes]
        left.plot(xs, [s["lead"] for s in sizes], "o-", label="lead page")
        left.plot(xs, [s["org_window"] for s in sizes], "s-", label="org-wide page")
        left.set_xscale("log")
        left.set_ylim(bottom=0)
        left.set_xlabel("activities in the database")
        left.set_ylabel("ms per request (1 worker)")
        left.set_title("Page cost vs dataset size (SQLite)")
        left.legend()
    if skips:
        done = [s for s in skips if s["ms"] and s["ms"] < 1e6]
        right.plot(
            [s["skip"] for s in done], [s["ms"] for s in done], "o-", label="crmapi 1 worker"
        )
        xs = [s["skip"] for s in skips]
        right.plot(xs, [s["floor_ms"] for s in skips], "s--", label="in-process floor")
        right.set_xlabel("_skip")
        right.set_ylabel("ms per request (log)")
        right.set_yscale("log")
        seq = data.get("sequential") or []
        if seq:
            right.plot(
                [s["skip"] for s in seq], [s["ms"] for s in seq], "^-",
                label="crmapi, sequential paging (one client)",
            )  # fmt: skip
        right.set_title("Org-wide page cost vs _skip (SQLite)")
        right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
