"""CLI verbs of the emulator plane: thin HTTP clients of a running server's ``/_crmapi/``.

They talk HTTP (never the database) so they act on exactly what a test sees, through the same
auth rules, on whichever backend and process the server runs: ``--url`` (``CRMAPI_URL``,
default http://127.0.0.1:8000), ``--api-key`` (``CRMAPI_API_KEY``: an organization's own key,
for its own organization) or ``--admin-token`` (``CRMAPI_ADMIN_TOKEN``: everything).
``--org`` (``CRMAPI_ORG``) defaults to the API key's organization.
"""

import base64
import os
import secrets
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import click
import orjson

from crmapi.emulator import test_helpers
from crmapi.settings import Settings

DEFAULT_URL = "http://127.0.0.1:8000"


@dataclass
class Remote:
    url: str
    api_key: str | None
    admin_token: str | None
    org: str | None

    def headers(self) -> dict[str, str]:
        out = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.admin_token:
            out["X-Crmapi-Admin-Token"] = self.admin_token
        if self.api_key:
            out["Authorization"] = "Basic " + base64.b64encode(f"{self.api_key}:".encode()).decode()
        return out

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = orjson.dumps(body) if body is not None else None
        request = urllib.request.Request(
            self.url.rstrip("/") + path, data=data, method=method, headers=self.headers()
        )
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            click.echo(f"error: HTTP {exc.code}: {exc.read().decode(errors='replace')}", err=True)
            sys.exit(1)
        except urllib.error.URLError as exc:
            click.echo(f"error: cannot reach {self.url}: {exc.reason}", err=True)
            sys.exit(1)
        return orjson.loads(raw) if raw.strip() else None

    def org_path(self, suffix: str = "") -> str:
        org = self.org
        if not org:
            if not self.api_key:
                click.echo("error: give --org (or CRMAPI_ORG), or an --api-key", err=True)
                sys.exit(2)
            org = self.call("GET", "/api/v1/me/")["organizations"][0]["id"]
        return f"/_crmapi/orgs/{org}{suffix}"


def _echo(obj: Any) -> None:
    if obj is not None:
        click.echo(orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode())


def _remote_options(f: Any) -> Any:
    options = [
        click.option("--url", envvar="CRMAPI_URL", default=DEFAULT_URL, show_default=True),
        click.option("--api-key", envvar="CRMAPI_API_KEY", default=None),
        click.option("--admin-token", envvar="CRMAPI_ADMIN_TOKEN", default=None),
        click.option("--org", envvar="CRMAPI_ORG", default=None, help="Organization id"),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _group(name: str, doc: str) -> click.Group:
    @click.group(name=name, help=doc)
    @_remote_options
    @click.pass_context
    def group(ctx: click.Context, url: str, api_key: str | None, admin_token: str | None,
              org: str | None) -> None:  # fmt: skip
        ctx.obj = Remote(url, api_key, admin_token, org)

    return group


pass_remote = click.make_pass_decorator(Remote)

orgs = _group("orgs", "Organizations on demand on a running server (/_crmapi/orgs).")


@orgs.command("new")
@click.option("--pack", default="empty", show_default=True, help="empty, demo or a size")
@click.option("--name", default=None)
@click.option("--email", default=None)
@click.option("--seed", type=int, default=None, help="Deterministic ids")
@click.option("--frozen-at", default=None, help="Start with a clock frozen at this instant")
@pass_remote
def org_new(
    remote: Remote,
    pack: str,
    name: str | None,
    email: str | None,
    seed: int | None,
    frozen_at: str | None,
) -> None:
    """Create an organization; prints its id and API key."""
    body: dict[str, Any] = {"seed_pack": int(pack) if pack.isdigit() else pack}
    for key, value in (("name", name), ("email", email), ("seed", seed)):
        if value is not None:
            body[key] = value
    if frozen_at:
        body["clock"] = {"mode": "frozen", "now": frozen_at}
    _echo(remote.call("POST", "/_crmapi/orgs", body))


@orgs.command("ls")
@pass_remote
def org_ls(remote: Remote) -> None:
    """List organizations."""
    _echo(remote.call("GET", "/_crmapi/orgs"))


@orgs.command("rm")
@pass_remote
def org_rm(remote: Remote) -> None:
    """Delete the organization and every row of it."""
    remote.call("DELETE", remote.org_path())
    click.echo("deleted")


@orgs.command("reset")
@click.option("--to", "target", default="empty", show_default=True,
              help="empty, seed or snapshot:NAME")  # fmt: skip
@pass_remote
def org_reset(remote: Remote, target: str) -> None:
    """Reset the organization."""
    _echo(remote.call("POST", remote.org_path("/reset"), {"to": target}))


@orgs.command("info")
@pass_remote
def org_info(remote: Remote) -> None:
    """Who the credential is in the organization."""
    _echo(remote.call("GET", remote.org_path("/info")))


clock = _group("clock", "An organization's test clock.")


@clock.command("show")
@pass_remote
def clock_show(remote: Remote) -> None:
    """The clock, its time and what is due."""
    _echo(remote.call("GET", remote.org_path("/clock")))


@clock.command("freeze")
@click.option("--at", default=None, help="ISO 8601 instant (default: the clock's now)")
@pass_remote
def clock_freeze(remote: Remote, at: str | None) -> None:
    """Freeze the clock."""
    body = {"mode": "frozen", **({"now": at} if at else {})}
    _echo(remote.call("PUT", remote.org_path("/clock"), body))


@clock.command("offset")
@click.option("--seconds", type=float, default=None)
@click.option("--now", "at", default=None, help="Run from this instant on, ticking")
@pass_remote
def clock_offset(remote: Remote, seconds: float | None, at: str | None) -> None:
    """Run the clock at an offset from wall time."""
    body: dict[str, Any] = {"mode": "offset"}
    if at:
        body["now"] = at
    else:
        body["offset_seconds"] = seconds or 0.0
    _echo(remote.call("PUT", remote.org_path("/clock"), body))


@clock.command("real")
@pass_remote
def clock_real(remote: Remote) -> None:
    """Back to wall time."""
    _echo(remote.call("PUT", remote.org_path("/clock"), {"mode": "real"}))


@clock.command("advance")
@click.option("--by", default=None, help="1d, 2h, 90s, P3D, PT1H or seconds")
@click.option("--to", "to", default=None, help="ISO 8601 instant")
@click.option("--until-idle", is_flag=True, help="Fire everything due")
@pass_remote
def clock_advance(remote: Remote, by: str | None, to: str | None, until_idle: bool) -> None:
    """Advance the clock, firing due work in time order; prints what fired."""
    body: dict[str, Any] = {}
    if by:
        body["by"] = float(by) if by.replace(".", "", 1).isdigit() else by
    if to:
        body["to"] = to
    if until_idle:
        body["until"] = "idle"
    _echo(remote.call("POST", remote.org_path("/clock/advance"), body))


snapshot = _group("snapshot", "Named snapshots: the organization's own, or --global ones (admin).")
_GLOBAL = click.option("--global", "is_global", is_flag=True, help="Admin snapshots")


def _snap_path(remote: Remote, is_global: bool, suffix: str = "") -> str:
    return "/_crmapi/snapshots" + suffix if is_global else remote.org_path("/snapshots" + suffix)


@snapshot.command("save")
@click.argument("name")
@_GLOBAL
@click.option("--of", "orgs", multiple=True, help="With --global: organizations (or 'all')")
@pass_remote
def snapshot_save(remote: Remote, name: str, is_global: bool, orgs: tuple[str, ...]) -> None:
    """Save a snapshot."""
    body: dict[str, Any] = {"name": name}
    if is_global:
        body["orgs"] = "all" if orgs == ("all",) else list(orgs)
    _echo(remote.call("POST", _snap_path(remote, is_global), body))


@snapshot.command("ls")
@_GLOBAL
@pass_remote
def snapshot_ls(remote: Remote, is_global: bool) -> None:
    """List snapshots."""
    _echo(remote.call("GET", _snap_path(remote, is_global)))


@snapshot.command("show")
@click.argument("name")
@_GLOBAL
@pass_remote
def snapshot_show(remote: Remote, name: str, is_global: bool) -> None:
    """A snapshot's manifest."""
    _echo(remote.call("GET", _snap_path(remote, is_global, f"/{name}")))


@snapshot.command("rm")
@click.argument("name")
@_GLOBAL
@pass_remote
def snapshot_rm(remote: Remote, name: str, is_global: bool) -> None:
    """Delete a snapshot."""
    remote.call("DELETE", _snap_path(remote, is_global, f"/{name}"))
    click.echo("deleted")


@snapshot.command("restore")
@click.argument("name")
@_GLOBAL
@click.option("--dry-run", is_flag=True, help="Report the differences only")
@click.option("--as-new-org", is_flag=True, help="With --global: as new organizations")
@pass_remote
def snapshot_restore(
    remote: Remote, name: str, is_global: bool, dry_run: bool, as_new_org: bool
) -> None:
    """Restore a snapshot."""
    body = {"dry_run": dry_run, "as_new_org": as_new_org}
    _echo(remote.call("POST", _snap_path(remote, is_global, f"/{name}/restore"), body))


outbox = _group("outbox", "What the organization sent.")


@outbox.command("ls")
@click.option("--kind", type=click.Choice(["email", "sms"]), default=None)
@pass_remote
def outbox_ls(remote: Remote, kind: str | None) -> None:
    """Sent emails and SMS, oldest first."""
    _echo(remote.call("GET", remote.org_path("/outbox" + (f"?kind={kind}" if kind else ""))))


@outbox.command("clear")
@click.option("--kind", type=click.Choice(["email", "sms"]), default=None)
@pass_remote
def outbox_clear(remote: Remote, kind: str | None) -> None:
    """Clear the list."""
    remote.call("DELETE", remote.org_path("/outbox" + (f"?kind={kind}" if kind else "")))
    click.echo("cleared")


helper = _group("helper", "Make the outside world happen (inbound email, opens, bounces...).")
HELPERS = [op.path.rsplit("/", 1)[1] for op in test_helpers.OPS]


@helper.command("run")
@click.argument("name", type=click.Choice(HELPERS))
@click.option("--data", "data", default="{}", help="The JSON body, e.g. '{\"lead_id\": ...}'")
@pass_remote
def helper_run(remote: Remote, name: str, data: str) -> None:
    """Run a test helper; prints the activity it wrote."""
    _echo(remote.call("POST", remote.org_path(f"/test_helpers/{name}"), orjson.loads(data)))


def announce_admin_token(host: str, port: int) -> None:
    """``crmapi serve`` in emulator mode without ``CRMAPI_ADMIN_TOKEN``: make one for this run
    (the server processes read it from the environment) and print it, so a newcomer can use
    the plane's global operations at once."""
    if Settings.from_env().production or os.environ.get("CRMAPI_ADMIN_TOKEN"):
        return
    token = "adm_" + secrets.token_urlsafe(24)
    os.environ["CRMAPI_ADMIN_TOKEN"] = token
    click.echo(
        f"Emulator admin token (this run): {token}\n"
        f"  export CRMAPI_ADMIN_TOKEN={token} CRMAPI_URL=http://{host}:{port}\n"
        f"  crmapi orgs new --pack demo     # or: curl -H 'X-Crmapi-Admin-Token: {token}' "
        f"-X POST http://{host}:{port}/_crmapi/orgs\n"
    )


GROUPS = (orgs, clock, snapshot, outbox, helper)


def register(cli: click.Group) -> None:
    """Add the plane's verbs: ``crmapi orgs|clock|snapshot|outbox|helper ...`` (``crmapi org
    create`` stays the database-level command that needs no server)."""
    for group in GROUPS:
        cli.add_command(group)
