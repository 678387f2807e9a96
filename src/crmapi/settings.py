"""Runtime settings, read once from the environment (``CRMAPI_*``)."""

import os
from dataclasses import dataclass, field


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    return raw.strip().lower() in ("1", "true", "yes", "on") if raw not in (None, "") else default


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
    # Per-request deadline: past it the client gets 503 (0 disables).
    request_timeout_seconds: float = 30.0
    # Failed authentications per client address per minute before 429 (0 disables).
    auth_failures_per_minute: int = 30
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
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
