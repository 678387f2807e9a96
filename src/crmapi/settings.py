"""Runtime settings, read once from the environment (``CRMAPI_*``)."""

import ipaddress
import os
from dataclasses import dataclass, field


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


def _env_networks(name: str) -> str:
    """A comma-separated CIDR list, checked now so a typo stops the server at start."""
    raw = os.environ.get(name) or ""
    items = raw.replace(",", " ").split()
    return ",".join(str(ipaddress.ip_network(item, strict=False)) for item in items)


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    return raw.strip().lower() in ("1", "true", "yes", "on") if raw not in (None, "") else default


MODES = ("emulator", "production")


def _mode(raw: str) -> str:
    mode = raw.strip().lower() or "emulator"
    if mode not in MODES:
        raise ValueError(f"CRMAPI_MODE must be one of {', '.join(MODES)} (got {raw!r})")
    return mode


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///./crmapi.db"
    # Largest request body accepted (413 above it).
    max_body_bytes: int = 10 * 1024 * 1024
    # How long an authenticated key is remembered in-process (saves a query per request).
    auth_cache_seconds: float = 5.0
    # Requests per second per API key and endpoint group; the organization gets 3x.
    rate_limit_per_key: int = 10_000
    rate_limit_window: int = 1
    event_retention_days: int = 30
    # The server's own background work (webhook delivery, event retention) runs in a thread
    # started with the app; tests that drive it by hand turn it off.
    background_workers: bool = True
    # Threads for requests that block (PostgreSQL queries, writes); raise for a distant database.
    threads: int = 6
    worker_poll_seconds: float = 1.0
    retention_interval_seconds: float = 3600.0
    # Webhook delivery: exponential backoff from the base delay, at most one try per 20 min,
    # given up after 72 h; a subscription whose deliveries all fail for 72 h is paused.
    webhook_retry_base_seconds: float = 10.0
    webhook_retry_max_seconds: float = 1200.0
    webhook_give_up_seconds: float = 72 * 3600.0
    webhook_pause_after_seconds: float = 72 * 3600.0
    webhook_backlog_limit: int = 100_000
    webhook_timeout_seconds: float = 10.0
    # How long a host holds a claimed delivery (0: twice the timeout plus 30 s); a host that
    # dies mid-send has its deliveries taken over when their lease ends.
    webhook_lease_seconds: float = 0.0
    # Sends in flight per host: in all, per subscription (destination) and per organization,
    # so one slow receiver cannot hold up another's deliveries.
    webhook_concurrency: int = 16
    webhook_concurrency_per_destination: int = 2
    webhook_concurrency_per_organization: int = 8
    # Per-request deadline: past it the client gets 503 (0 disables).
    request_timeout_seconds: float = 30.0
    # Failed authentications per client address per minute before 429 (0 disables).
    auth_failures_per_minute: int = 30
    # Shared rate-limit windows in Redis (optional; PostgreSQL deployments share them anyway).
    redis_url: str = ""
    # The address clients reach this server at (``https://crm.example``): makes an export's
    # ``download_url`` absolute; empty, it is a path under this server.
    public_url: str = ""
    # "emulator" (default) serves the /_crmapi/ plane and its test-double behaviour;
    # "production" removes it (the deployment docs set it).
    mode: str = "emulator"
    # Networks webhooks may always be sent to (CIDRs, comma-separated), in either mode; see
    # events/urlpolicy.py (production mode allows only public addresses otherwise).
    webhook_allowed_networks: str = ""
    # Needed by the plane's global operations (organizations, snapshots, global faults).
    admin_token: str = ""
    # Signs the inspector's session cookies; empty: a random secret per process (sign-ins
    # then last as long as the process; `crmapi serve` sets one shared by its workers).
    session_secret: str = ""
    # Where named snapshots are written (emulator/snapshots.py): portable JSON Lines files.
    snapshot_dir: str = "./.crmapi-snapshots"
    # SQLite durability: NORMAL keeps every commit across a process crash; FULL also across
    # a power loss or OS crash, at one fsync per commit (docs/reliability.md).
    sqlite_synchronous: str = "NORMAL"
    # Addresses (CIDR list) of reverse proxies whose X-Forwarded-For names the client.
    trusted_proxies: str = ""
    # Expensive requests (past the loop budget lately) of one organization running at once
    # per process; more wait their turn, so one tenant cannot take every core.
    # 0 = half the CPU cores.
    org_concurrency: int = 0
    # A SQLite read runs on the event loop for at most this long, then again in a thread.
    loop_budget_ms: float = 20.0
    # Connection edges (uvicorn): header bytes and count, slow-client timeouts, connections.
    max_header_bytes: int = 32 * 1024
    max_headers: int = 100
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 10.0
    keepalive_timeout_seconds: float = 5.0
    max_connections: int = 1000
    # Emulator II (crmapi.emulator): the per-org request journal's ring size (0 turns it off)
    # and body cap, the strict level (off, warn, strict) and fault rules loaded at startup.
    journal_max: int = 10_000
    journal_body_max: int = 64 * 1024
    strict: str = "warn"
    faults_file: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        values: dict[str, object] = {
            "database_url": os.environ.get("CRMAPI_DATABASE_URL", cls.database_url),
            "max_body_bytes": _env_int("CRMAPI_MAX_BODY_BYTES", cls.max_body_bytes),
            "rate_limit_per_key": _env_int("CRMAPI_RATE_LIMIT_PER_KEY", cls.rate_limit_per_key),
            "rate_limit_window": _env_int("CRMAPI_RATE_LIMIT_WINDOW", cls.rate_limit_window),
            "request_timeout_seconds": float(
                os.environ.get("CRMAPI_REQUEST_TIMEOUT_SECONDS") or cls.request_timeout_seconds
            ),
            "auth_failures_per_minute": _env_int(
                "CRMAPI_AUTH_FAILURES_PER_MINUTE", cls.auth_failures_per_minute
            ),
            "event_retention_days": _env_int(
                "CRMAPI_EVENT_RETENTION_DAYS", cls.event_retention_days
            ),
            "background_workers": _env_bool("CRMAPI_BACKGROUND_WORKERS", cls.background_workers),
            "threads": max(1, _env_int("CRMAPI_THREADS", cls.threads)),
            "worker_poll_seconds": _env_float(
                "CRMAPI_WORKER_POLL_SECONDS", cls.worker_poll_seconds
            ),
            "webhook_retry_base_seconds": _env_float(
                "CRMAPI_WEBHOOK_RETRY_BASE_SECONDS", cls.webhook_retry_base_seconds
            ),
            "webhook_timeout_seconds": _env_float(
                "CRMAPI_WEBHOOK_TIMEOUT_SECONDS", cls.webhook_timeout_seconds
            ),
            "webhook_lease_seconds": _env_float(
                "CRMAPI_WEBHOOK_LEASE_SECONDS", cls.webhook_lease_seconds
            ),
            "webhook_concurrency": max(
                1, _env_int("CRMAPI_WEBHOOK_CONCURRENCY", cls.webhook_concurrency)
            ),
            "webhook_concurrency_per_destination": max(
                1,
                _env_int(
                    "CRMAPI_WEBHOOK_CONCURRENCY_PER_DESTINATION",
                    cls.webhook_concurrency_per_destination,
                ),
            ),
            "webhook_concurrency_per_organization": max(
                1,
                _env_int(
                    "CRMAPI_WEBHOOK_CONCURRENCY_PER_ORGANIZATION",
                    cls.webhook_concurrency_per_organization,
                ),
            ),
            "redis_url": os.environ.get("CRMAPI_REDIS_URL", cls.redis_url),
            "public_url": os.environ.get("CRMAPI_PUBLIC_URL", cls.public_url),
            "mode": _mode(os.environ.get("CRMAPI_MODE", cls.mode)),
            "webhook_allowed_networks": _env_networks("CRMAPI_WEBHOOK_ALLOW"),
            "admin_token": os.environ.get("CRMAPI_ADMIN_TOKEN", cls.admin_token),
            "session_secret": os.environ.get("CRMAPI_SESSION_SECRET", cls.session_secret),
            "snapshot_dir": os.environ.get("CRMAPI_SNAPSHOT_DIR") or cls.snapshot_dir,
            "sqlite_synchronous": os.environ.get(
                "CRMAPI_SQLITE_SYNCHRONOUS", cls.sqlite_synchronous
            ).upper(),
            "trusted_proxies": os.environ.get("CRMAPI_TRUSTED_PROXIES", cls.trusted_proxies),
            "org_concurrency": _env_int("CRMAPI_ORG_CONCURRENCY", cls.org_concurrency),
            "loop_budget_ms": _env_float("CRMAPI_LOOP_BUDGET_MS", cls.loop_budget_ms),
            "max_header_bytes": _env_int("CRMAPI_MAX_HEADER_BYTES", cls.max_header_bytes),
            "max_headers": _env_int("CRMAPI_MAX_HEADERS", cls.max_headers),
            "header_timeout_seconds": _env_float(
                "CRMAPI_HEADER_TIMEOUT_SECONDS", cls.header_timeout_seconds
            ),
            "body_timeout_seconds": _env_float(
                "CRMAPI_BODY_TIMEOUT_SECONDS", cls.body_timeout_seconds
            ),
            "keepalive_timeout_seconds": _env_float(
                "CRMAPI_KEEPALIVE_TIMEOUT_SECONDS", cls.keepalive_timeout_seconds
            ),
            "max_connections": _env_int("CRMAPI_MAX_CONNECTIONS", cls.max_connections),
            "journal_max": _env_int("CRMAPI_JOURNAL_MAX", cls.journal_max),
            "journal_body_max": _env_int("CRMAPI_JOURNAL_BODY_MAX", cls.journal_body_max),
            "strict": os.environ.get("CRMAPI_STRICT", cls.strict).strip().lower() or cls.strict,
            "faults_file": os.environ.get("CRMAPI_FAULTS_FILE", cls.faults_file),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def production(self) -> bool:
        return self.mode == "production"
