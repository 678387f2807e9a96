"""Regenerate the initial migration from ``tables.py`` (pre-release: one migration, no data yet).

Once a release has shipped, add new revisions with ``alembic revision --autogenerate`` instead.
"""

import re
import tempfile
from pathlib import Path

from crmapi.storage import migrate
from crmapi.storage.db import Database

VERSIONS = migrate.MIGRATIONS / "versions"


def main() -> None:
    for old in VERSIONS.glob("*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'schema.db'}")
        migrate.revision(db, "initial schema")
        db.dispose()
    (generated,) = VERSIONS.glob("*.py")
    text = generated.read_text()
    revision = re.search(r"^revision: str = '(\w+)'", text, re.M)
    assert revision is not None
    text = text.replace(revision.group(1), "0001").replace("astext_type=Text()", "astext_type=sa.Text()")
    generated.unlink()
    (VERSIONS / "0001_initial_schema.py").write_text(text)
    print("wrote", VERSIONS / "0001_initial_schema.py")


if __name__ == "__main__":
    main()
