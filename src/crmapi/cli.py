"""The ``crmapi`` command: serve, org/user/token administration, and migrations."""

import os
import secrets
import sys
import time
from typing import Any

import click
import orjson
import uvicorn

from crmapi import cli_config, seed
from crmapi.activities.context import WriteContext
from crmapi.activities.types import meeting as meetings
from crmapi.domain.context import Principal
from crmapi.emulator import cli as emulator_cli
from crmapi.http import workers as workers_module
from crmapi.http.protocol import GuardedHttpToolsProtocol
from crmapi.resources import accounts, lead_import, mirror, mirror_progress, mirror_source
from crmapi.settings import Settings
from crmapi.storage import migrate
from crmapi.storage.db import Database


def _db() -> Database:
    db = Database(Settings.from_env().database_url)
    migrate.upgrade(db)
    return db


def _print(obj: dict[str, Any]) -> None:
    click.echo(orjson.dumps(obj).decode())


@click.group(invoke_without_command=True)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """A Close-compatible CRM API server."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int)
@click.option("--demo", is_flag=True, help="Fill an empty database with a demo organization.")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
@click.option("--access-log", is_flag=True, help="Log every request line (never credentials).")
def serve(host: str, port: int, workers: int, demo: bool, log_level: str, access_log: bool) -> None:
    """Serve the API under /api/v1/ (the schema is migrated first)."""
    # One secret for every worker of this server, so an inspector sign-in works on all of them.
    os.environ.setdefault("CRMAPI_SESSION_SECRET", secrets.token_urlsafe(32))
    db = _db()
    if demo:
        with db.write() as conn:
            if seed.has_data(conn):
                key = seed.demo_org_key(conn)
                note = "Demo data already present; issued a fresh API key."
            else:
                key = seed.demo(conn).key
                note = "Created the demo organization."
        if key:
            click.echo(f"{note}\nAPI key: {key}\n")
            click.echo(
                f"  curl -u {key}: http://{host}:{port}/api/v1/lead/\n"
                f"  curl -u {key}: 'http://{host}:{port}/api/v1/activity/?_limit=5'\n"
            )
    if not Settings.from_env().production:
        click.echo(f"Inspector: http://{host}:{port}/ (sign in with an API key)\n")
    db.dispose()
    emulator_cli.announce_admin_token(host, port)
    options: dict[str, Any] = {
        "app": "crmapi.asgi:create",
        "factory": True,
        # The standard asyncio loop, not uvloop: at 32 connections uvloop served some requests
        # several rounds late (p99 3-11x p50 against 1.2-2x, same throughput; see
        # docs/performance.md). httptools parses HTTP in C either way.
        "loop": "asyncio",
        # httptools with header limits, slow-client timeouts and a connection cap.
        "http": GuardedHttpToolsProtocol,
        "timeout_keep_alive": Settings.from_env().keepalive_timeout_seconds,
        # X-Forwarded-For is believed only from CRMAPI_TRUSTED_PROXIES (http/auth), never
        # from uvicorn's default of any loopback peer.
        "proxy_headers": False,
        "log_level": log_level,
        "access_log": access_log,
    }
    if workers > 1 and workers_module.reuse_port_supported():
        click.echo(f"Serving on http://{host}:{port} with {workers} worker processes.")
        sys.exit(workers_module.serve(host, port, workers, options))
    uvicorn.run(**options, host=host, port=port, workers=workers)


@cli.group()
def org() -> None:
    """Organizations."""


@org.command("create")
@click.option("--name", required=True)
@click.option("--email", required=True, help="Email of the organization's first user.")
def org_create(name: str, email: str) -> None:
    """Create an organization, its first user and an API key."""
    with _db().write() as conn:
        _print(accounts.create_organization(conn, name, email))


@cli.group()
def user() -> None:
    """Users."""


@user.command("add")
@click.option("--org", "org_id", required=True)
@click.option("--email", required=True)
@click.option("--first-name", default=None)
@click.option("--last-name", default=None)
def user_add(org_id: str, email: str, first_name: str | None, last_name: str | None) -> None:
    """Add a user to an organization and issue an API key for it."""
    try:
        with _db().write() as conn:
            _print(accounts.add_user(conn, org_id, email, first_name, last_name))
    except LookupError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@user.command("deactivate")
@click.option("--org", "org_id", required=True)
@click.option("--user", "user_id", required=True)
def user_deactivate(org_id: str, user_id: str) -> None:
    """Deactivate a member: its keys and tokens stop working with the next request."""
    try:
        with _db().write() as conn:
            done = accounts.set_membership_active(conn, org_id, False, user_id=user_id)
    except LookupError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    _print({"membership_id": done["id"], "user_id": done["user_id"], "is_active": False})


@cli.group()
def key() -> None:
    """API keys (Close manages them outside the API, as here)."""


@key.command("list")
@click.option("--org", "org_id", required=True)
def key_list(org_id: str) -> None:
    """List an organization's API keys (ids and owners; secrets are never stored)."""
    with _db().read() as conn:
        _print({"data": accounts.list_api_keys(conn, org_id)})


@key.command("revoke")
@click.argument("key_or_id")
def key_revoke(key_or_id: str) -> None:
    """Revoke an API key, named by its id (apikey_...) or the key itself; at once."""
    try:
        with _db().write() as conn:
            _print({"revoked": accounts.revoke_api_key(conn, key_or_id)})
    except LookupError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@cli.group()
def token() -> None:
    """OAuth-style bearer access tokens."""


@token.command("create")
@click.option("--org", "org_id", required=True)
@click.option("--user", "user_id", required=True)
@click.option("--expires-in", default=3600, show_default=True, type=int)
def token_create(org_id: str, user_id: str, expires_in: int) -> None:
    """Issue an access token for a member of an organization."""
    try:
        with _db().write() as conn:
            issued = accounts.create_access_token(conn, org_id, user_id, expires_in)
    except LookupError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    _print({"access_token": issued["access_token"], "expires_in": issued["expires_in"]})


@cli.group()
def meeting() -> None:
    """Meetings (Close syncs them from calendars; the API has no create)."""


@meeting.command("add")
@click.option("--org", "org_id", required=True)
@click.option("--lead", "lead_id", required=True)
@click.option("--title", required=True)
@click.option("--starts-at", required=True, help="ISO 8601, e.g. 2025-03-01T15:00:00+00:00")
@click.option("--ends-at", required=True)
@click.option("--attendee", "attendees", multiple=True, help="Email address; repeat for each.")
@click.option("--user", "user_id", default=None, help="Organizer (default: first member).")
@click.option("--location", default="")
def meeting_add(
    org_id: str,
    lead_id: str,
    title: str,
    starts_at: str,
    ends_at: str,
    attendees: tuple[str, ...],
    user_id: str | None,
    location: str,
) -> None:
    """Add a meeting to a lead, as a calendar sync would; print it as JSON."""
    try:
        with _db().write() as conn:
            organizer = meetings.organizer(conn, org_id, user_id)
            wc = WriteContext(conn=conn, principal=Principal(org_id, organizer))
            _print(
                meetings.add_meeting(
                    wc,
                    lead_id=lead_id,
                    title=title,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    attendees=list(attendees),
                    location=location,
                )
            )
    except (LookupError, ValueError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@cli.command("import")
@click.option(
    "--file",
    "path",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="A Close lead export: JSON (type leads), gzipped or not.",
)
@click.option(
    "--from",
    "source_url",
    default=None,
    help="A Close-compatible API to copy, e.g. https://api.close.com/api/v1/.",
)
@click.option("--api-key", default=None, help="The source's API key (with --from).")
@click.option("--since", default=None, help="With --from: read only what changed after (ISO).")
@click.option("--org", "org_id", default=None, help="Default: a new organization.")
@click.option("--user", "user_id", default=None, help="Who acts (default: the first member).")
@click.option("--email", default="import@crmapi.example", show_default=True,
              help="First user of the new organization (without --org).")  # fmt: skip
@click.option("--quiet", is_flag=True, help="No progress lines (with --from).")
def import_cmd(
    path: str | None,
    source_url: str | None,
    api_key: str | None,
    since: str | None,
    org_id: str | None,
    user_id: str | None,
    email: str,
    quiet: bool,
) -> None:
    """Load a Close JSON lead export (--file), or copy an organization of a Close-compatible
    API (--from, --api-key), through the API's own write paths; print a report."""
    if (path is None) == (source_url is None) or (source_url and not api_key):
        click.echo("error: give --file, or --from with --api-key.", err=True)
        sys.exit(2)
    if source_url is not None and api_key is not None:
        _import_from(source_url, api_key, since, org_id, user_id, email, quiet)
        return
    assert path is not None
    try:
        docs = lead_import.read_file(path)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    db = _db()
    created: dict[str, Any] = {}
    if org_id is None:
        with db.write() as conn:
            created = accounts.create_organization(conn, "Imported organization", email)
        org_id = created["organization_id"]
    try:
        report = lead_import.load(db, org_id, docs, user_id)
    except LookupError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    _print({"organization_id": org_id, **_new_key(created), **report.as_dict()})


def _import_from(
    url: str, key: str, since: str | None, org_id: str | None, user_id: str | None,
    email: str, quiet: bool,
) -> None:  # fmt: skip
    db = _db()
    source = mirror_source.Source(url, key)
    started = time.perf_counter()
    try:
        created = mirror.prepare(db, source, org_id, email)
        org = created["organization_id"]
        with db.read() as conn:
            members = lead_import._members(conn, org)
        if not members:
            raise LookupError(f"No organization {org} (or it has no members).")
        shown = mirror_progress.Lines(sys.stderr, quiet)
        report = mirror.run(db, source, org, user_id or members[0], since, shown.update)
        shown.close()
    except (LookupError, mirror_source.SourceError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    finally:
        source.close()
    elapsed = time.perf_counter() - started
    _print({"organization_id": org, **_new_key(created), **report,
            "seconds": round(elapsed, 2)})  # fmt: skip


def _new_key(created: dict[str, Any]) -> dict[str, Any]:
    return {"api_key": created["api_key"]} if created.get("api_key") else {}


emulator_cli.register(cli)
cli_config.register(cli)


@cli.command("migrate")
def migrate_cmd() -> None:
    """Create or migrate the database schema."""
    _db().dispose()
    click.echo("Schema is up to date.")


@cli.command("seed")
@click.option("--leads", "n_leads", default=1_000, show_default=True, type=click.IntRange(1))
@click.option(
    "--activities",
    "n_activities",
    default=50_000,
    show_default=True,
    type=click.IntRange(1),
    help="Activities of the first organization, each lead's Created activity included.",
)
@click.option(
    "--orgs",
    "n_orgs",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="Organizations; each extra one gets a tenth of the first one's rows.",
)
@click.option("--seed", "seed_value", default=1, show_default=True, type=int)
@click.option("--users", default=8, show_default=True, type=click.IntRange(1))
@click.option("--years", default=3, show_default=True, type=click.IntRange(1))
@click.option("--quiet", is_flag=True, help="No progress bar.")
def seed_cmd(
    n_leads: int,
    n_activities: int,
    n_orgs: int,
    seed_value: int,
    users: int,
    years: int,
    quiet: bool,
) -> None:
    """Fill the database with generated leads, contacts and activities (deterministic).

    Prints one JSON object: each organization's id, API key and row counts, and the load rate.
    """
    db = _db()
    share = seed.OTHER_ORG_SHARE
    total = n_activities + (n_orgs - 1) * max(n_activities // share, n_leads // share, 1)
    started = time.perf_counter()
    bar = click.progressbar(length=total, label="Seeding activities", file=sys.stderr)
    if quiet:
        orgs = seed.populate(
            db, n_leads, n_activities, n_orgs, seed_value, users=users, years=years
        )
    else:
        with bar:
            orgs = seed.populate(
                db,
                n_leads,
                n_activities,
                n_orgs,
                seed_value,
                users=users,
                years=years,
                progress=bar.update,
            )
    elapsed = time.perf_counter() - started
    db.dispose()
    written = sum(o.activities for o in orgs)
    _print(
        {
            "organizations": [
                {
                    "organization_id": o.organization_id,
                    "api_key": o.api_key,
                    "leads": o.leads,
                    "activities": o.activities,
                    "first_lead_id": o.lead_ids[0],
                }
                for o in orgs
            ],
            "activities": written,
            "seconds": round(elapsed, 2),
            "activities_per_second": round(written / elapsed),
        }
    )


from crmapi.emulator import cli_observe  # noqa: E402  (journal, fault, strict, sink, delivery)

cli_observe.register(cli)
