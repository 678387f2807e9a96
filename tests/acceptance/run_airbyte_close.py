"""Runs airbyte-source-close-com 0.5.30 against a local crmapi: only the base URL is changed.

CLOSE_BASE_URL=http://127.0.0.1:PORT/api/v1/ python run_airbyte_close.py check|discover|read ...
The upstream ``check`` hard-codes api.close.com, so it is replaced by the same request (GET me)
against our base URL.
"""

import os
from typing import Any

import requests
from source_close_com import source as close_source

BASE = os.environ["CLOSE_BASE_URL"]
if not BASE.startswith("http://127.0.0.1:") or not BASE.endswith("/"):
    raise SystemExit(f"refusing to run the Airbyte source against {BASE!r}")
close_source.CloseComStream.url_base = BASE


def check_connection(self: Any, logger: Any, config: dict[str, Any]) -> tuple[bool, Any]:
    try:
        auth = close_source.Base64HttpAuthenticator(auth=(config["api_key"], ""))
        requests.get(BASE + "me", headers=auth.get_auth_header(), timeout=30).raise_for_status()
        return True, None
    except Exception as exc:  # reported as CONNECTION_STATUS FAILED, as upstream does
        return False, exc


close_source.SourceCloseCom.check_connection = check_connection

if __name__ == "__main__":
    from source_close_com.run import run

    run()
