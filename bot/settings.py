"""All configuration, read from environment variables, with safe defaults for the embedded setup.

Nothing here depends on the working directory: relative paths are resolved against the project root.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Defaults at the chat edge, also the field defaults of bot.edge.gate.EdgeConfig (tests build it bare)
DEFAULT_MAX_MESSAGE_CHARS = 1000
DEFAULT_RATE_SENDER_BURST = 10.0  # messages a sender may send at once ...
DEFAULT_RATE_SENDER_PER_MINUTE = 30.0  # ... and then on average per minute
DEFAULT_RATE_IP_BURST = 120.0  # one address can be a whole office behind NAT
DEFAULT_RATE_IP_PER_MINUTE = 600.0
DEFAULT_ACTION_TIMEOUT_S = 20.0  # Rasa 3.6 waits 5 minutes for an action by default
DEFAULT_PROXY_COUNT = 0


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on", "ja"}


def _path(name: str, default: Path) -> Path:
    path = Path(_env(name, str(default)))
    return path if path.is_absolute() else PROJECT_ROOT / path


class UnsafeSettingsError(ValueError):
    """A setting that must not be used in production; the message says which and what to do (Dutch)."""


ENVIRONMENTS = ("development", "production")
MIN_SECRET_BYTES = 32
# Values that appear in deploy/ examples and docs: anyone could sign a cookie with them.
PLACEHOLDER_SECRETS = frozenset({"change-me-to-64-random-characters", "change-me", "change-me-too"})
_PLACEHOLDER_MARKERS = ("change-me", "changeme", "placeholder", "vervang-mij", "example")


def ensure_private_dir(path: Path) -> Path:
    """Create a folder for local state readable by this user only (databases, logs, the secret).

    An existing folder is left alone, except the project's own var/ from an older checkout."""
    if not path.exists():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)  # mode is not widened by the umask
    elif path.resolve() == (PROJECT_ROOT / "var").resolve() and path.stat().st_uid == os.getuid():
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o700)
    return path


def _secret_key(data_dir: Path) -> str:
    """A stable secret for cookies: from the environment, or generated once into the data folder."""
    from_env = os.environ.get("LOKET_SECRET_KEY")
    if from_env:
        return from_env
    key_file = data_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    ensure_private_dir(data_dir)
    key = secrets.token_urlsafe(48)
    try:
        # 0600 from the first byte: write_text + chmod would leave it readable for a moment.
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return key_file.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def secret_problem(secret: str) -> str | None:
    """Why `secret` is unfit to sign production cookies (Dutch), or None."""
    if len(secret.encode()) < MIN_SECRET_BYTES:
        return f"LOKET_SECRET_KEY is korter dan {MIN_SECRET_BYTES} tekens"
    lowered = secret.lower()
    if secret in PLACEHOLDER_SECRETS or any(m in lowered for m in _PLACEHOLDER_MARKERS):
        return "LOKET_SECRET_KEY is nog de voorbeeldwaarde uit de documentatie"
    return None


def _check_production(settings: Settings) -> None:
    """Refuse to start on settings that are only safe on a developer's machine."""
    problems = []
    problem = secret_problem(settings.secret_key)
    if problem:
        problems.append(problem + ". Maak een nieuwe met: python3 -c \"import secrets; "
                                  "print(secrets.token_urlsafe(48))\"")
    if settings.webhook_allow_loopback:
        problems.append("LOKET_WEBHOOK_ALLOW_LOOPBACK is alleen voor ontwikkelen; zet het uit")
    if settings.mail_sink:
        problems.append("LOKET_MAIL_SINK bewaart e-mail lokaal in plaats van hem te versturen; "
                        "zet het uit en stel LOKET_SMTP_HOST in")
    if settings.smtp_username and settings.smtp_starttls is not True:
        problems.append("LOKET_SMTP_USERNAME zonder LOKET_SMTP_STARTTLS=true: het wachtwoord kan "
                        "onversleuteld over het netwerk gaan")
    if problems:
        raise UnsafeSettingsError(
            "Loket start niet: deze instellingen zijn onveilig in productie "
            "(LOKET_ENV=production of LOKET_SECURE_COOKIES=true):\n- " + "\n- ".join(problems))


@dataclass(frozen=True)
class Settings:
    project_root: Path
    data_dir: Path
    knowledge_dir: Path
    models_dir: Path
    database_url: str
    tracker_db_url: str
    redis_url: str  # empty: in-memory lock store (one Rasa process)
    rasa_host: str
    rasa_port: int
    rasa_url: str  # where the web app and the widget reach Rasa
    rasa_token: str  # empty: Rasa's HTTP API stays disabled
    action_host: str
    action_port: int
    action_url: str
    web_host: str
    web_port: int
    public_url: str
    secret_key: str
    secure_cookies: bool
    smtp_host: str
    smtp_port: int
    smtp_sender: str
    outbox_interval_s: float
    conversation_retention_days: int
    contact_retention_days: int
    max_message_chars: int
    # token buckets at the chat edge: a sender, and a client address (an office shares one)
    rate_sender_burst: float
    rate_sender_per_minute: float
    rate_ip_burst: float
    rate_ip_per_minute: float
    proxy_count: int  # >0: trust that many proxies' X-Forwarded-For entries
    action_timeout_s: float
    purge_interval_s: float  # retention purge in the web app; 0: off
    frame_ancestors: str
    log_level: str
    env: str = "development"  # LOKET_ENV: development | production
    webhook_allow_loopback: bool = False  # development only: http:// webhooks to 127.0.0.1/::1
    rasa_patches: bool = True  # LOKET_RASA_PATCHES: bot/rasa_ext/speedups.py (only on the Rasa it was written for)
    # SMTP: None = STARTTLS when the server offers it, True = required, False = never
    smtp_starttls: bool | None = None
    smtp_username: str = ""  # empty: no login
    smtp_password: str = ""
    mail_sink: bool = False  # `loket run` starts a local SMTP server that keeps mail in mail_dir
    review_max_age_days: int = 183  # LOKET_REVIEW_MAX_AGE_DAYS: a content review older than this is stale
    extra: dict = field(default_factory=dict)

    @property
    def mail_dir(self) -> Path:
        """Where the local mail sink keeps each message as an .eml file."""
        return self.data_dir / "mail"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def production(self) -> bool:
        """Exposed to the internet: explicitly, or because it runs behind TLS with secure cookies."""
        return self.env == "production" or self.secure_cookies


def load_settings() -> Settings:
    """Read settings from the environment now (use get_settings() for the cached copy)."""
    data_dir = _path("LOKET_DATA_DIR", PROJECT_ROOT / "var")
    rasa_host = _env("LOKET_RASA_HOST", "127.0.0.1")
    rasa_port = _env_int("LOKET_RASA_PORT", 5005)
    action_host = _env("LOKET_ACTION_HOST", "127.0.0.1")
    action_port = _env_int("LOKET_ACTION_PORT", 5055)
    web_host = _env("LOKET_WEB_HOST", "127.0.0.1")
    web_port = _env_int("LOKET_WEB_PORT", 8080)
    env = _env("LOKET_ENV", "development").strip().lower()
    if env not in ENVIRONMENTS:
        raise ValueError(f"LOKET_ENV must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
    settings = Settings(
        project_root=PROJECT_ROOT,
        data_dir=data_dir,
        knowledge_dir=_path("LOKET_KNOWLEDGE_DIR", PROJECT_ROOT / "knowledge"),
        models_dir=_path("LOKET_MODELS_DIR", PROJECT_ROOT / "models"),
        database_url=_env("LOKET_DATABASE_URL", f"sqlite:///{data_dir / 'loket.db'}"),
        tracker_db_url=_env("LOKET_TRACKER_DB_URL", f"sqlite:///{data_dir / 'tracker.db'}"),
        redis_url=_env("LOKET_REDIS_URL", ""),
        rasa_host=rasa_host,
        rasa_port=rasa_port,
        rasa_url=_env("LOKET_RASA_URL", f"http://{rasa_host}:{rasa_port}"),
        rasa_token=_env("LOKET_RASA_TOKEN", ""),
        action_host=action_host,
        action_port=action_port,
        action_url=_env("LOKET_ACTION_URL", f"http://{action_host}:{action_port}/webhook"),
        web_host=web_host,
        web_port=web_port,
        public_url=_env("LOKET_PUBLIC_URL", f"http://{web_host}:{web_port}"),
        secret_key=_secret_key(data_dir),
        secure_cookies=_env_bool("LOKET_SECURE_COOKIES", False),
        smtp_host=_env("LOKET_SMTP_HOST", "127.0.0.1"),
        smtp_port=_env_int("LOKET_SMTP_PORT", 1025),
        smtp_sender=_env("LOKET_SMTP_SENDER", "loket@example.nl"),
        outbox_interval_s=_env_float("LOKET_OUTBOX_INTERVAL_S", 2),
        conversation_retention_days=_env_int("LOKET_CONVERSATION_RETENTION_DAYS", 28),
        contact_retention_days=_env_int("LOKET_CONTACT_RETENTION_DAYS", 90),
        max_message_chars=_env_int("LOKET_MAX_MESSAGE_CHARS", DEFAULT_MAX_MESSAGE_CHARS),
        rate_sender_burst=_env_float("LOKET_RATE_SENDER_BURST", DEFAULT_RATE_SENDER_BURST),
        rate_sender_per_minute=_env_float("LOKET_RATE_SENDER_PER_MINUTE", DEFAULT_RATE_SENDER_PER_MINUTE),
        rate_ip_burst=_env_float("LOKET_RATE_IP_BURST", DEFAULT_RATE_IP_BURST),
        rate_ip_per_minute=_env_float("LOKET_RATE_IP_PER_MINUTE", DEFAULT_RATE_IP_PER_MINUTE),
        proxy_count=_env_int("LOKET_PROXY_COUNT", DEFAULT_PROXY_COUNT),
        action_timeout_s=_env_float("LOKET_ACTION_TIMEOUT_S", DEFAULT_ACTION_TIMEOUT_S),
        purge_interval_s=_env_float("LOKET_PURGE_INTERVAL_S", 3600),
        frame_ancestors=_env("LOKET_FRAME_ANCESTORS", "'self'"),
        log_level=_env("LOKET_LOG_LEVEL", "INFO"),
        env=env,
        webhook_allow_loopback=_env_bool("LOKET_WEBHOOK_ALLOW_LOOPBACK", False),
        rasa_patches=_env_bool("LOKET_RASA_PATCHES", True),
        smtp_starttls=_env_bool("LOKET_SMTP_STARTTLS", False) if _env("LOKET_SMTP_STARTTLS", "") else None,
        smtp_username=_env("LOKET_SMTP_USERNAME", ""),
        smtp_password=_env("LOKET_SMTP_PASSWORD", ""),
        review_max_age_days=_env_int("LOKET_REVIEW_MAX_AGE_DAYS", 183),
    )
    # The embedded default: no SMTP server configured and not in production, so mail goes to the local sink.
    settings = replace(settings, mail_sink=_env_bool(
        "LOKET_MAIL_SINK", not _env("LOKET_SMTP_HOST", "") and not settings.production))
    if settings.review_max_age_days < 1:
        raise ValueError("LOKET_REVIEW_MAX_AGE_DAYS must be at least 1")
    if settings.production:
        _check_production(settings)
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
