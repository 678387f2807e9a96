"""Runs tap-closeio 1.6.6 against a local crmapi: only its base URL constant is changed.

CLOSE_BASE_URL=http://127.0.0.1:PORT/api/v1 python run_tap_closeio.py --config c.json ...
"""

import os

import tap_closeio
import tap_closeio.http as tap_http

BASE = os.environ["CLOSE_BASE_URL"]
if not BASE.startswith("http://127.0.0.1:"):
    raise SystemExit(f"refusing to run tap-closeio against {BASE!r}")
tap_http.BASE_URL = BASE  # read at request time by tap_closeio.http.url()

if __name__ == "__main__":
    tap_closeio.main()
