"""``crmapi journal|fault|strict|sink|delivery``: thin HTTP clients of a running server's plane."""

import functools
import json
import sys
import urllib.error
import urllib.request
from base64 import b64encode
from typing import Any

import click


class Plane:
    def __init__(self, url: str, api_key: str | None, admin_token: str | None, org: str | None):
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.admin_token = admin_token
        self.org = org

    def org_path(self, path: str) -> str:
        if not self.org:
            raise click.UsageError("--org (or CRMAPI_ORG) is required")
        return f"/_crmapi/orgs/{self.org}{path}"

    def request(self, method: str, path: str, data: bytes | None = None) -> urllib.request.Request:
        """A request to the plane carrying this caller's credentials."""
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if self.api_key:
            request.add_header(
                "Authorization", "Basic " + b64encode(f"{self.api_key}:".encode()).decode()
            )
        if self.admin_token:
            request.add_header("X-Crmapi-Admin-Token", self.admin_token)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        return request

    def call(self, method: str, path: str, body: Any = None, raw: bool = False) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = self.request(method, path, data)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, payload = exc.code, exc.read()
        except urllib.error.URLError as exc:
            raise click.ClickException(f"cannot reach {self.url}: {exc.reason}") from None
        if raw:
            return status, payload
        found = json.loads(payload) if payload else None
        if status >= 400 and status != 409:
            raise click.ClickException(f"{status}: {json.dumps(found)}")
        return found


def _echo(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=True))


def _options(f: Any) -> Any:
    """The server and credential options, handed to the command as one ``plane``."""

    @functools.wraps(f)
    def command(
        url: str, api_key: str | None, admin_token: str | None, org: str | None, **kw: Any
    ) -> Any:
        return f(plane=Plane(url, api_key, admin_token, org), **kw)

    command = click.option(
        "--url", envvar="CRMAPI_URL", default="http://127.0.0.1:8000", show_default=True
    )(command)
    command = click.option("--api-key", envvar="CRMAPI_API_KEY", default=None)(command)
    command = click.option("--admin-token", envvar="CRMAPI_ADMIN_TOKEN", default=None)(command)
    return click.option("--org", envvar="CRMAPI_ORG", default=None)(command)


def _criteria(
    operation: str | None, method: str | None, path: str | None, status: int | None, raw: str | None
) -> dict[str, Any]:
    crit: dict[str, Any] = json.loads(raw) if raw else {}
    for key, value in (
        ("operation", operation),
        ("method", method),
        ("path", path),
        ("status", status),
    ):
        if value is not None:
            crit[key] = value
    return crit


def _criteria_options(f: Any) -> Any:
    """The journal's matching options, handed to the command as one ``criteria`` dict."""

    @functools.wraps(f)
    def command(
        operation: str | None,
        method: str | None,
        path: str | None,
        status: int | None,
        raw: str | None,
        **kw: Any,
    ) -> Any:
        return f(criteria=_criteria(operation, method, path, status, raw), **kw)

    command = click.option("--operation")(command)
    command = click.option("--method")(command)
    command = click.option("--path")(command)
    command = click.option("--status", type=int)(command)
    return click.option("--criteria", "raw", help="JSON criteria (query, body matchers...)")(
        command
    )


@click.group()
def journal() -> None:
    """The organization's request journal."""


@journal.command("tail")
@_options
@click.option("--max", "limit", type=int, default=0, help="Stop after N entries.")
def journal_tail(plane: Plane, limit: int) -> None:
    """Follow the journal live (server-sent events)."""
    request = plane.request("GET", plane.org_path(f"/journal/stream?max={limit}"))
    try:
        response = urllib.request.urlopen(request)
    except urllib.error.HTTPError as exc:
        raise click.ClickException(f"{exc.code}: {exc.read().decode()}") from None
    except urllib.error.URLError as exc:
        raise click.ClickException(f"cannot reach {plane.url}: {exc.reason}") from None
    with response:
        for line in response:
            if line.startswith(b"data: "):
                e = json.loads(line[6:])
                click.echo(
                    f"{e['id']} {e['method']} {e['path']} {e['status']} "
                    f"{e['operation']} {e['duration_ms']}ms {' '.join(e['warnings'])}"
                )
                sys.stdout.flush()


@journal.command("find")
@_options
@_criteria_options
def journal_find(
    plane: Plane,
    criteria: dict[str, Any],
) -> None:
    body = {"criteria": criteria}
    _echo(plane.call("POST", plane.org_path("/journal/find"), body))


@journal.command("count")
@_options
@_criteria_options
def journal_count(
    plane: Plane,
    criteria: dict[str, Any],
) -> None:
    body = {"criteria": criteria}
    _echo(plane.call("POST", plane.org_path("/journal/count"), body))


@journal.command("verify")
@_options
@_criteria_options
@click.option("--count", "expected", type=int, default=None)
def journal_verify(
    plane: Plane,
    criteria: dict[str, Any],
    expected: int | None,
) -> None:
    """Exit 1 (printing the near misses) unless the count holds."""
    body: dict[str, Any] = {"criteria": criteria}
    if expected is not None:
        body["count"] = expected
    found = plane.call("POST", plane.org_path("/journal/verify"), body)
    _echo(found)
    if not found.get("ok"):
        sys.exit(1)


@journal.command("export")
@_options
@click.option("--har", "out", type=click.Path(), default="-", help="File (default stdout).")
def journal_export(plane: Plane, out: str) -> None:
    _, payload = plane.call("GET", plane.org_path("/journal.har"), raw=True)
    if out == "-":
        click.echo(payload.decode())
    else:
        with open(out, "wb") as f:
            f.write(payload)


@journal.command("unrouted")
@_options
def journal_unrouted(plane: Plane) -> None:
    _echo(plane.call("GET", plane.org_path("/journal/unrouted")))


@journal.command("clear")
@_options
def journal_clear(plane: Plane) -> None:
    _echo(plane.call("DELETE", plane.org_path("/journal")))


def _faults_path(plane: Plane, is_global: bool, tail: str = "") -> str:
    return "/_crmapi/faults" + tail if is_global else plane.org_path("/faults" + tail)


@click.group()
def fault() -> None:
    """Fault rules (per organization, or --global with the admin token)."""


@fault.command("add")
@_options
@click.option("--global", "is_global", is_flag=True)
@click.option("--rule", "raw", help="The whole rule as JSON.")
@click.option("--id", "rule_id")
@click.option("--group")
@click.option("--match-path")
@click.option("--rate-limit", is_flag=True, help="Close's 429.")
@click.option("--status", type=int, help="A Close error status.")
@click.option("--latency-ms", type=float)
@click.option("--drop", is_flag=True)
@click.option("--page-drift", type=click.Choice(["delete", "insert"]))
@click.option("--next", "next_n", type=int)
@click.option("--every", type=int)
@click.option("--after", type=int)
@click.option("--probability", type=float)
@click.option("--seed", type=int)
def fault_add(
    plane: Plane,
    is_global: bool,
    raw: str | None,
    rule_id: str | None,
    group: str | None,
    match_path: str | None,
    rate_limit: bool,
    status: int | None,
    latency_ms: float | None,
    drop: bool,
    page_drift: str | None,
    next_n: int | None,
    every: int | None,
    after: int | None,
    probability: float | None,
    seed: int | None,
) -> None:
    rule: dict[str, Any] = json.loads(raw) if raw else {}
    effect: dict[str, Any] | None = None
    if rate_limit:
        effect = {"kind": "rate_limit"}
    elif status is not None:
        effect = {"kind": "status", "status": status}
    elif latency_ms is not None:
        effect = {"kind": "latency", "ms": latency_ms}
    elif drop:
        effect = {"kind": "drop"}
    elif page_drift:
        effect = {"kind": "page_drift", "mode": page_drift}
    if effect:
        rule["effect"] = effect
    match = {k: v for k, v in (("group", group), ("path", match_path)) if v}
    if match:
        rule["match"] = match
    trigger = {
        k: v
        for k, v in (
            ("next", next_n),
            ("every", every),
            ("after", after),
            ("probability", probability),
            ("seed", seed),
        )
        if v is not None
    }
    if trigger:
        rule["trigger"] = trigger
    if rule_id:
        rule["id"] = rule_id
    _echo(plane.call("POST", _faults_path(plane, is_global), rule))


@fault.command("list")
@_options
@click.option("--global", "is_global", is_flag=True)
def fault_list(plane: Plane, is_global: bool) -> None:
    _echo(plane.call("GET", _faults_path(plane, is_global)))


@fault.command("clear")
@_options
@click.option("--global", "is_global", is_flag=True)
@click.option("--id", "rule_id", help="Remove only this rule.")
def fault_clear(
    plane: Plane,
    is_global: bool,
    rule_id: str | None,
) -> None:
    _echo(plane.call("DELETE", _faults_path(plane, is_global, f"/{rule_id}" if rule_id else "")))


@click.group()
def strict() -> None:
    """The organization's strict level and features report."""


@strict.command("show")
@_options
def strict_show(plane: Plane) -> None:
    _echo(plane.call("GET", plane.org_path("/strict")))


@strict.command("set")
@_options
@click.argument("level", type=click.Choice(["off", "warn", "strict", "server"]))
def strict_set(plane: Plane, level: str) -> None:
    _echo(
        plane.call(
            "PUT", plane.org_path("/strict"), {"level": None if level == "server" else level}
        )
    )


@strict.command("report")
@_options
def strict_report(plane: Plane) -> None:
    _echo(plane.call("GET", plane.org_path("/strict/report")))


@click.group()
def sink() -> None:
    """Built-in webhook receivers."""


@sink.command("create")
@_options
@click.argument("name")
def sink_create(plane: Plane, name: str) -> None:
    _echo(plane.call("POST", plane.org_path("/sinks"), {"name": name}))


@sink.command("list")
@_options
@click.argument("name", required=False)
def sink_list(plane: Plane, name: str | None) -> None:
    """Every sink, or what arrived at one."""
    _echo(plane.call("GET", plane.org_path("/sinks" + (f"/{name}" if name else ""))))


@sink.command("fail")
@_options
@click.argument("name")
@click.option("--status", type=int, default=500, show_default=True)
@click.option("--next", "next_n", type=int, default=1, show_default=True)
def sink_fail(
    plane: Plane,
    name: str,
    status: int,
    next_n: int,
) -> None:
    _echo(
        plane.call(
            "PUT", plane.org_path(f"/sinks/{name}/behaviour"), {"status": status, "next": next_n}
        )
    )


@sink.command("delete")
@_options
@click.argument("name")
def sink_delete(plane: Plane, name: str) -> None:
    _echo(plane.call("DELETE", plane.org_path(f"/sinks/{name}")))


@click.group()
def delivery() -> None:
    """Webhook deliveries: list, redeliver, replay, flush."""


@delivery.command("list")
@_options
@click.option("--state")
@click.option("--subscription-id")
def delivery_list(
    plane: Plane,
    state: str | None,
    subscription_id: str | None,
) -> None:
    query = "&".join(
        f"{k}={v}" for k, v in (("state", state), ("subscription_id", subscription_id)) if v
    )
    _echo(plane.call("GET", plane.org_path("/webhook-deliveries" + (f"?{query}" if query else ""))))


@delivery.command("redeliver")
@_options
@click.argument("delivery_id")
def delivery_redeliver(plane: Plane, delivery_id: str) -> None:
    _echo(plane.call("POST", plane.org_path(f"/webhook-deliveries/{delivery_id}/redeliver"), {}))


@delivery.command("replay")
@_options
@click.argument("event_id")
@click.option("--subscription-id", required=True)
def delivery_replay(
    plane: Plane,
    event_id: str,
    subscription_id: str,
) -> None:
    _echo(
        plane.call(
            "POST",
            plane.org_path(f"/events/{event_id}/replay"),
            {"subscription_id": subscription_id},
        )
    )


@delivery.command("flush")
@_options
@click.argument("subscription_id")
def delivery_flush(plane: Plane, subscription_id: str) -> None:
    _echo(plane.call("POST", plane.org_path(f"/webhooks/{subscription_id}/flush"), {}))


@delivery.command("verify-signature")
@_options
@click.option("--signature-key", required=True, help="The subscription's signature_key.")
@click.option("--hash", "sig_hash", required=True, help="close-sig-hash as received.")
@click.option("--timestamp", required=True, help="close-sig-timestamp as received.")
@click.option(
    "--body-file", type=click.File("rb"), required=True, help="The raw body ('-': stdin)."
)
def delivery_verify_signature(
    plane: Plane,
    signature_key: str,
    sig_hash: str,
    timestamp: str,
    body_file: Any,
) -> None:
    """Exit 1 unless the body carries a valid Close signature for the key."""
    body = {
        "signature_key": signature_key,
        "headers": {"close-sig-hash": sig_hash, "close-sig-timestamp": timestamp},
        "body": body_file.read().decode("utf-8"),
    }
    found = plane.call("POST", "/_crmapi/tools/verify-signature", body)
    _echo(found)
    if not found.get("valid"):
        sys.exit(1)


@journal.command("get")
@_options
@click.argument("entry_id")
def journal_get(plane: Plane, entry_id: str) -> None:
    _echo(plane.call("GET", plane.org_path(f"/journal/{entry_id}")))


GROUPS = (journal, fault, strict, sink, delivery)


def register(cli: click.Group) -> None:
    for group in GROUPS:
        cli.add_command(group)
