"""``crmapi account|phone|dialer|role|group add``: the configuration objects Close creates
outside its API (a mailbox connected by OAuth, a rented number, a dialer session started in
the app, roles and groups made in the settings pages), written straight to the database.
Each prints the new object as the API renders it."""

import sys
from collections.abc import Callable

import click
import orjson
from sqlalchemy import Connection

from crmapi.registry import BY_NAME
from crmapi.resources import (
    connected_accounts,
    dialers,
    groups,
    phone_numbers,
    repository,
    roles,
)
from crmapi.settings import Settings
from crmapi.storage import migrate
from crmapi.storage.db import Database

Make = Callable[[Connection], str]


def _write(resource: str, org_id: str, members: tuple[str, ...], make: Make) -> None:
    """Run ``make`` for an organization whose named members all exist; print the object."""
    db = Database(Settings.from_env().database_url)
    migrate.upgrade(db)
    try:
        with db.write() as conn:
            missing = [u for u in members if not repository.is_member(conn, org_id, u)]
            if missing:
                raise LookupError(f"no member {missing[0]} in organization {org_id}")
            made = repository.render_one(conn, BY_NAME[resource], org_id, make(conn))
    except (LookupError, ValueError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(orjson.dumps(made).decode())


org_option = click.option("--org", "org_id", required=True)
user_option = click.option("--user", "user_id", required=True, help="The member it belongs to.")


@click.group()
def account() -> None:
    """Connected accounts (Close: a member connects a mailbox, calendar or Zoom)."""


@account.command("add")
@org_option
@user_option
@click.option("--type", "type_", type=click.Choice(connected_accounts.TYPES), default="google")
@click.option("--email", required=True)
@click.option("--name", default="", help="The sender name of its identity.")
def account_add(org_id: str, user_id: str, type_: str, email: str, name: str) -> None:
    """Connect an account for a member."""
    _write(
        "connected_account",
        org_id,
        (user_id,),
        lambda c: connected_accounts.add(c, org_id, user_id, type_, email, name),
    )


@click.group()
def phone() -> None:
    """Phone numbers (Close rents and ports them outside the API)."""


@phone.command("add")
@org_option
@click.option("--number", required=True, help="E.164, e.g. +16503335555.")
@click.option("--user", "user_id", default=None, help="Owner of a personal number.")
@click.option("--participant", "participants", multiple=True, help="Group number member.")
@click.option("--label", default="")
def phone_add(
    org_id: str, number: str, user_id: str | None, participants: tuple[str, ...], label: str
) -> None:
    """Add a personal number (--user) or a group number (--participant, repeated)."""
    members = (user_id,) if user_id else participants
    _write(
        "phone_number",
        org_id,
        members,
        lambda c: phone_numbers.add(c, org_id, number, user_id, label, list(participants)),
    )


@click.group()
def dialer() -> None:
    """Dialer sessions (Close: started in the app over a smart view)."""


@dialer.command("add")
@org_option
@user_option
@click.option("--smart-view", "source_value", required=True, help="The save_... id it dials.")
@click.option("--type", "type_", type=click.Choice(dialers.TYPES), default="power")
@click.option("--caller-id", default="")
def dialer_add(org_id: str, user_id: str, source_value: str, type_: str, caller_id: str) -> None:
    """Record a finished dialer session of a member."""
    _write(
        "dialer",
        org_id,
        (user_id,),
        lambda c: dialers.add(c, org_id, user_id, source_value, type_, caller_id=caller_id),
    )


@click.group()
def role() -> None:
    """Custom roles (Close: made in the settings pages)."""


@role.command("add")
@org_option
@click.option("--name", required=True)
@click.option("--permission", "permissions", multiple=True, help="Repeat for each.")
def role_add(org_id: str, name: str, permissions: tuple[str, ...]) -> None:
    """Add a custom role."""
    _write("role", org_id, (), lambda c: roles.add(c, org_id, name, list(permissions)))


@click.group()
def group() -> None:
    """Groups of members (Close: made in the settings pages)."""


@group.command("add")
@org_option
@click.option("--name", required=True)
@click.option("--member", "members", multiple=True, help="A user id; repeat for each.")
def group_add(org_id: str, name: str, members: tuple[str, ...]) -> None:
    """Add a group."""
    _write("group", org_id, members, lambda c: groups.add(c, org_id, name, list(members)))


GROUPS: tuple[click.Group, ...] = (account, phone, dialer, role, group)


def register(cli: click.Group) -> None:
    for command in GROUPS:
        cli.add_command(command)
