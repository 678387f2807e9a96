"""Snapshots of organizations as portable JSON Lines, and restoring them.

A file is a manifest line (format and schema versions, the organizations, row counts) then
one ``{"t": table, "r": row}`` line per row, with JSON columns as JSON values: readable, diffable,
independent of the backend (a SQLite snapshot restores on PostgreSQL and back) and never
pickle. Files are written to a temporary name and renamed, so a crash mid-write leaves the
previous snapshot whole.

Restoring into the same organization replaces its data in one transaction; its credentials
(API keys, tokens) stay as they are, so the caller's key keeps working, and come from the
snapshot only when the organization does not exist (a deleted one, or another database).
Restoring as a new organization gives every row a new id, replaced consistently wherever an
old id appears (columns, JSON documents, Message-IDs, webhook payloads): the same story
under new names, so parallel tests start from one baseline.
"""

import os
import re
import string
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, Table, delete, select, text

from crmapi import __version__
from crmapi.domain import clock
from crmapi.domain.errors import InvalidRequest
from crmapi.resources import accounts
from crmapi.storage import tables as t
from crmapi.util import dates
from crmapi.util.ids import _SHORT_FAMILIES as SHORT_FAMILIES

FORMAT = "crmapi-snapshot"
FORMAT_VERSION = 1
# Tables holding one organization's data, parents before children (for inserts).
ORG_TABLES: tuple[Table, ...] = tuple(
    tbl
    for tbl in t.metadata.sorted_tables
    if "organization_id" in tbl.c and tbl.name not in t.RUNTIME_TABLES
)
# Its operational state: cleared with its data, never saved in a snapshot.
RUNTIME_TABLES: tuple[Table, ...] = tuple(t.metadata.tables[n] for n in sorted(t.RUNTIME_TABLES))
CREDENTIALS = frozenset({"api_key", "access_token"})
BY_NAME = {str(tbl.name): tbl for tbl in (*ORG_TABLES, t.organization, t.user)}
# A Close-shaped id wherever it appears in text: family prefix, underscore, 22-43 base62.
_ID = re.compile(rb"(?<![A-Za-z0-9_])[a-z][a-z0-9]*_[A-Za-z0-9]{22,43}(?![A-Za-z0-9])")


@dataclass
class Snapshot:
    manifest: dict[str, Any]
    body: bytes  # the row lines, as written
    _rows: dict[str, list[dict[str, Any]]] | None = None
    # Derived once per file version (read_file caches the Snapshot): per-test restores of one
    # baseline pay for parsing and cutting it once.
    _by_org: dict[str, dict[str, list[dict[str, Any]]]] | None = None
    _templates: dict[str, "OrgTemplate"] = field(default_factory=dict)

    def rows(self) -> dict[str, list[dict[str, Any]]]:
        if self._rows is None:
            self._rows = parse_rows(self.body)
        return self._rows


def parse_rows(body: bytes) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for line in body.splitlines():
        if line.strip():
            item = orjson.loads(line)
            out.setdefault(item["t"], []).append(item["r"])
    return out


def schema_version(conn: Connection) -> str:
    return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar() or "")


def dump(conn: Connection, org: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of ``org`` by table, and the users its memberships name."""
    rows: dict[str, list[dict[str, Any]]] = {}
    org_row = conn.execute(select(t.organization).where(t.organization.c.id == org)).all()
    rows["organization"] = [_plain(r) for r in org_row]
    member_ids = select(t.membership.c.user_id).where(t.membership.c.organization_id == org)
    users = conn.execute(select(t.user).where(t.user.c.id.in_(member_ids)).order_by(t.user.c.id))
    rows["user"] = [_plain(r) for r in users]
    for tbl in ORG_TABLES:
        # Primary key order: the same organization always writes the same file.
        order = list(tbl.primary_key.columns)
        result = conn.execute(select(tbl).where(tbl.c.organization_id == org).order_by(*order))
        rows[str(tbl.name)] = [_plain(r) for r in result]
    return rows


def _plain(row: Any) -> dict[str, Any]:
    # Column names are ``quoted_name`` (a str subclass orjson refuses as a key).
    return {str(k): v for k, v in row._mapping.items()}


def encode(manifest: dict[str, Any], per_org: list[dict[str, list[dict[str, Any]]]]) -> bytes:
    lines = [orjson.dumps(manifest)]
    for rows in per_org:
        for name, items in rows.items():
            lines.extend(orjson.dumps({"t": name, "r": row}) for row in items)
    return b"\n".join(lines) + b"\n"


def manifest_for(conn: Connection, name: str, per_org: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "schema_version": schema_version(conn),
        "crmapi_version": __version__,
        "backend": conn.dialect.name,
        "name": name,
        "created_at": dates.canonical(dates.to_datetime(_wall())),
        "organizations": [
            {
                "id": rows["organization"][0]["id"],
                "name": rows["organization"][0]["name"],
                "counts": {k: len(v) for k, v in rows.items() if v},
            }
            for rows in per_org
        ],
    }


def _wall() -> str:
    return clock.now_for(clock.REAL)


def write_file(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, flush it to disk, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_CACHE: dict[Path, tuple[float, int, Snapshot]] = {}


def read_file(path: Path) -> Snapshot:
    """A snapshot file, parsed once per version of the file (per-test restores reuse it)."""
    stat = path.stat()
    hit = _CACHE.get(path)
    if hit is not None and hit[:2] == (stat.st_mtime, stat.st_size):
        return hit[2]
    raw = path.read_bytes()
    head, _, body = raw.partition(b"\n")
    manifest = orjson.loads(head)
    if manifest.get("format") != FORMAT:
        raise InvalidRequest([f"{path.name} is not a crmapi snapshot."])
    if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
        raise InvalidRequest(["This snapshot was written by a newer crmapi; upgrade to load it."])
    snap = Snapshot(manifest, body)
    if len(_CACHE) > 64:
        _CACHE.clear()
    _CACHE[path] = (stat.st_mtime, stat.st_size, snap)
    return snap


# Restoring


def _columns(tbl: Table, row: dict[str, Any]) -> dict[str, Any]:
    # Rows of an older schema lack new columns (defaults apply); removed columns are dropped.
    return {c.name: row.get(c.name) for c in tbl.c if c.name in row or c.nullable}


def _exists(conn: Connection, org: str) -> bool:
    found = conn.execute(select(t.organization.c.id).where(t.organization.c.id == org)).first()
    return found is not None


def _users(conn: Connection, users: list[dict[str, Any]]) -> dict[str, str]:
    """Insert the snapshot's users missing here; map an id to the local user of its email."""
    remap: dict[str, str] = {}
    for user in users:
        local = (
            conn.execute(
                select(t.user.c.id).where(
                    (t.user.c.id == user["id"]) | (t.user.c.email == user["email"])
                )
            )
            .scalars()
            .all()
        )
        if user["id"] in local:
            continue
        if local:
            remap[user["id"]] = local[0]
        else:
            conn.execute(t.user.insert().values(**_columns(t.user, user)))
    return remap


def wipe(conn: Connection, org: str, keep: frozenset[str] = CREDENTIALS) -> None:
    """Delete the organization's rows (children first), except the tables in ``keep``."""
    for tbl in (*RUNTIME_TABLES, *reversed(ORG_TABLES)):
        if tbl.name not in keep:
            conn.execute(delete(tbl).where(tbl.c.organization_id == org))


def restore_rows(conn: Connection, org: str, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Replace ``org``'s data by ``rows`` (already carrying ``org``'s ids)."""
    existed = _exists(conn, org)
    remap = _users(conn, rows.get("user", []))
    if remap:
        rows = parse_rows(remap_text(encode_rows(rows), remap))
    wipe(conn, org, CREDENTIALS if existed else frozenset())
    org_row = _columns(t.organization, rows["organization"][0])
    if existed:
        conn.execute(t.organization.update().where(t.organization.c.id == org).values(**org_row))
    else:
        conn.execute(t.organization.insert().values(**org_row))
    for tbl in ORG_TABLES:
        if existed and tbl.name in CREDENTIALS:
            continue
        items = rows.get(tbl.name)
        if items:
            insert_rows(conn, tbl, items)


def insert_rows(conn: Connection, tbl: Table, items: list[dict[str, Any]]) -> None:
    """Many rows at once. On SQLite straight to the driver (JSON columns encoded here): the
    per-row work of SQLAlchemy's executemany was most of a 1,000-activity restore."""
    if conn.dialect.name != "sqlite":
        conn.execute(tbl.insert(), [_columns(tbl, r) for r in items])
        return
    columns = [c for c in tbl.c if c.name in items[0] or c.nullable]
    names = ", ".join(f'"{c.name}"' for c in columns)
    sql = f'INSERT INTO "{tbl.name}" ({names}) VALUES ({", ".join("?" * len(columns))})'
    json_names = {c.name for c in columns if isinstance(c.type, JSON)}
    dumps = orjson.dumps
    plan = [(c.name, c.name in json_names) for c in columns]
    values = [
        tuple(
            (None if (v := r.get(n)) is None else dumps(v).decode()) if j else r.get(n)
            for n, j in plan
        )
        for r in items
    ]
    conn.exec_driver_sql(sql, values)


def encode_rows(rows: dict[str, list[dict[str, Any]]]) -> bytes:
    return b"\n".join(orjson.dumps({"t": n, "r": r}) for n, items in rows.items() for r in items)


def remap_text(body: bytes, mapping: dict[str, str]) -> bytes:
    """Replace every id of ``mapping`` wherever it appears in the encoded rows."""
    table = {k.encode(): v.encode() for k, v in mapping.items()}

    def swap(match: re.Match[bytes]) -> bytes:
        found = match.group(0)
        return table.get(found, found)

    return _ID.sub(swap, body)


def as_new_org(rows_body: bytes, org_rows: dict[str, list[dict[str, Any]]]) -> tuple[str, bytes]:
    """The encoded rows of one organization under new ids; the new organization id too."""
    users = {u["id"].encode() for u in org_rows.get("user", [])}
    mapping = {
        found.decode(): fresh_id(found.partition(b"_")[0].decode())
        for found in set(_ID.findall(rows_body))
        if found not in users
    }
    return mapping[org_rows["organization"][0]["id"]], remap_text(rows_body, mapping)


# Ids are unique, not secret: random bytes mapped to base62 (as request ids are), ~50x
# faster than ``new_id``'s per-character ``secrets.choice`` for the thousand ids of a restore.
_B62 = bytes((string.ascii_letters + string.digits).encode()[b % 62] for b in range(256))


def _length(family: str) -> int:
    return 22 if family in SHORT_FAMILIES else 43


def fresh_id(family: str) -> str:
    return f"{family}_" + os.urandom(_length(family)).translate(_B62).decode("ascii")


@dataclass
class OrgTemplate:
    """One organization of a snapshot, prepared once for many restores: its rows (users and
    credentials left out) as parameter lists per table, JSON columns as JSON text, encoded as
    one document and cut at every id it mentions. A restore joins the pieces (new ids in
    between), parses once and hands the lists to the driver."""

    org: str
    rows: dict[str, list[dict[str, Any]]]  # as in the snapshot, for users and credentials
    columns: dict[str, list[str]]  # per table, the order of each parameter list
    parts: list[bytes]  # text, id, text, id, ..., text
    renamed: dict[bytes, str]  # every id to rename -> its family (users keep theirs)

    @classmethod
    def build(cls, rows: dict[str, list[dict[str, Any]]]) -> "OrgTemplate":
        columns: dict[str, list[str]] = {}
        params: dict[str, list[list[Any]]] = {}
        for tbl in (t.organization, *ORG_TABLES):
            items = rows.get(str(tbl.name))
            if not items or tbl.name in CREDENTIALS:
                continue
            cols = [c for c in tbl.c if c.name in items[0] or c.nullable]
            columns[str(tbl.name)] = [str(c.name) for c in cols]
            plan = [(str(c.name), isinstance(c.type, JSON)) for c in cols]
            params[str(tbl.name)] = [[_param(r.get(n), j) for n, j in plan] for r in items]
        parts = _ID_GROUP.split(orjson.dumps(params))
        users = {u["id"].encode() for u in rows.get("user", [])}
        renamed = {
            found: found.partition(b"_")[0].decode() for found in parts[1::2] if found not in users
        }
        return cls(rows["organization"][0]["id"], rows, columns, parts, renamed)

    def instance(self, rename: bool = True) -> tuple[str, dict[str, list[list[Any]]]]:
        """The parameter lists, under a new set of ids (or the snapshot's own)."""
        if not rename:
            return self.org, orjson.loads(b"".join(self.parts))
        # One system call for all the new ids' random characters.
        pool = os.urandom(43 * len(self.renamed)).translate(_B62)
        mapping = {
            old: family.encode() + b"_" + pool[i * 43 : i * 43 + _length(family)]
            for i, (old, family) in enumerate(self.renamed.items())
        }
        parts = list(self.parts)
        get = mapping.get
        for i in range(1, len(parts), 2):
            parts[i] = get(parts[i], parts[i])
        return mapping[self.org.encode()].decode(), orjson.loads(b"".join(parts))


def _param(value: Any, is_json: bool) -> Any:
    return orjson.dumps(value).decode() if is_json and value is not None else value


def insert_params(conn: Connection, name: str, columns: list[str], rows: list[list[Any]]) -> None:
    """Parameter lists into a table: the driver's ``executemany`` on SQLite (the per-row work
    of SQLAlchemy's was most of a 1,000-activity restore), SQLAlchemy on PostgreSQL."""
    tbl = BY_NAME[name]
    if conn.dialect.name == "sqlite":
        names = ", ".join(f'"{c}"' for c in columns)
        sql = f'INSERT INTO "{name}" ({names}) VALUES ({", ".join("?" * len(columns))})'
        conn.exec_driver_sql(sql, [tuple(r) for r in rows])
        return
    json_at = [i for i, c in enumerate(columns) if isinstance(tbl.c[c].type, JSON)]
    values = []
    for r in rows:
        for i in json_at:
            r[i] = orjson.loads(r[i]) if r[i] is not None else None
        values.append(dict(zip(columns, r, strict=True)))
    conn.execute(tbl.insert(), values)


def restore_template(conn: Connection, tpl: OrgTemplate, rename: bool) -> str:
    """The template's organization into the database: as a new one (``rename``) or in place
    of itself (its rows replaced; its credentials kept when it exists). Returns its id."""
    if _users(conn, tpl.rows.get("user", [])):
        # A user of the snapshot is another id here (same email): the slow, general path.
        org, fresh = tpl.org, tpl.rows
        if rename:
            new_org, body = as_new_org(
                encode_rows({k: v for k, v in tpl.rows.items() if k not in CREDENTIALS}), tpl.rows
            )
            org, fresh = new_org, parse_rows(body)
        restore_rows(conn, org, fresh)
        return org
    org, tables = tpl.instance(rename)
    existed = not rename and _exists(conn, org)
    if existed:
        wipe(conn, org, CREDENTIALS)
        conn.execute(delete(t.organization).where(t.organization.c.id == org))
    for name, rows in tables.items():
        insert_params(conn, name, tpl.columns[name], rows)
    if not rename and not existed:
        for name in sorted(CREDENTIALS):
            if tpl.rows.get(name):
                insert_rows(conn, BY_NAME[name], tpl.rows[name])
    return org


_ID_GROUP = re.compile(b"(" + _ID.pattern + b")")


def split_by_org(snap: Snapshot) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """The snapshot's rows per organization (users go with every organization naming them)."""
    if snap._by_org is not None:
        return snap._by_org
    rows = snap.rows()
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    users = {u["id"]: u for u in rows.get("user", [])}
    for org_row in rows.get("organization", []):
        org = org_row["id"]
        mine: dict[str, list[dict[str, Any]]] = {"organization": [org_row]}
        members = {m["user_id"] for m in rows.get("membership", []) if m["organization_id"] == org}
        mine["user"] = [users[u] for u in sorted(members) if u in users]
        for tbl in ORG_TABLES:
            mine[str(tbl.name)] = [r for r in rows.get(tbl.name, []) if r["organization_id"] == org]
        out[org] = mine
    snap._by_org = out
    return out


def template(snap: Snapshot, org: str) -> OrgTemplate:
    found = snap._templates.get(org)
    if found is None:
        found = snap._templates[org] = OrgTemplate.build(split_by_org(snap)[org])
    return found


def restore_as_new(conn: Connection, tpl: OrgTemplate) -> dict[str, str]:
    """Insert the template as a new organization with a fresh API key; its id and key."""
    new_org = restore_template(conn, tpl, rename=True)
    owner = (
        conn.execute(
            select(t.organization.c.created_by).where(t.organization.c.id == new_org)
        ).scalar()
        or conn.execute(
            select(t.membership.c.user_id).where(t.membership.c.organization_id == new_org)
        ).scalar()
    )
    assert owner is not None
    return {
        "organization_id": new_org,
        "user_id": owner,
        "api_key": accounts.create_api_key(conn, new_org, owner),
    }


def diff(
    current: dict[str, list[dict[str, Any]]], target: dict[str, list[dict[str, Any]]]
) -> dict[str, dict[str, int]]:
    """Per table: rows a restore would add, modify and remove (rows matched by primary key)."""
    out: dict[str, dict[str, int]] = {}
    for name in sorted(set(current) | set(target)):
        if name in CREDENTIALS:
            continue
        key = _primary_key(name)
        now = {key(r): _canonical(r) for r in current.get(name, [])}
        then = {key(r): _canonical(r) for r in target.get(name, [])}
        counts = {
            "added": len(then.keys() - now.keys()),
            "modified": sum(1 for k in then.keys() & now.keys() if then[k] != now[k]),
            "removed": len(now.keys() - then.keys()),
        }
        if any(counts.values()):
            out[name] = counts
    return out


def _canonical(row: dict[str, Any]) -> bytes:
    return orjson.dumps(row, option=orjson.OPT_SORT_KEYS)


def _primary_key(name: str) -> Any:
    columns = [str(c.name) for c in BY_NAME[name].primary_key.columns]
    return lambda row: tuple(row.get(c) for c in columns)
