"""aliasdesk settings, configured by ALIASDESK_* environment variables (see README)."""

from __future__ import annotations

import os
import secrets
import socket
from datetime import timedelta
from importlib.util import find_spec
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from aliasdesk.accounts.ldapconf import directory_settings
from aliasdesk.datadir import data_dir, stored_secret_key


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(f"ALIASDESK_{name}", default)


def envbool(name: str, default: bool = False) -> bool:
    value = os.environ.get(f"ALIASDESK_{name}")
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def envint(name: str, default: int) -> int:
    value = os.environ.get(f"ALIASDESK_{name}")
    return int(value) if value else default


BASE_DIR = Path(__file__).resolve().parent
# django-ninja's templates and static files (the API documents' swagger-ui, served here: no
# CDN), found without importing it: as an app, ninja (and pydantic) would be imported at every
# command's start, ~0.1 s that a deploy never needs.
_NINJA_SPEC = find_spec("ninja")
assert _NINJA_SPEC is not None and _NINJA_SPEC.submodule_search_locations
NINJA_DIR = Path(next(iter(_NINJA_SPEC.submodule_search_locations)))
DATA_DIR = data_dir()
MAP_DIR = Path(envstr("MAP_DIR", str(DATA_DIR / "maps"))).resolve()
# The only directories a map file may live in (aliasdesk/aliases/paths.py: no symlinks below them).
MAP_DIRS = [Path(d) for d in envstr("MAP_DIRS", f"{MAP_DIR}:/etc/postfix").split(":") if d.strip()]
MAP_TYPE = envstr("MAP_TYPE", "hash")
POSTMAP = envstr("POSTMAP", "postmap")
POSTFIX_CONFIG_DIR = envstr("POSTFIX_CONFIG_DIR") or None
# Run after a texthash map is replaced (texthash is read once at start), e.g. "postfix reload".
RELOAD_COMMAND = envstr("RELOAD_COMMAND")
# With SQLite, the separate database Postfix reads the aliases from (aliasdesk postfix-config);
# empty: lookup.sqlite3 in the data dir.
LOOKUP_DATABASE = envstr("LOOKUP_DATABASE")
# Ticket references in alias comments as links: the ticket's URL with {ref} for the reference,
# and what a reference looks like (a regular expression; empty: Jira's OPS-1234). Unset URL: no links.
TICKET_URL = envstr("TICKET_URL")
TICKET_PATTERN = envstr("TICKET_PATTERN")
# Mail-log ingestion: the zone classic syslog timestamps are written in (default TIME_ZONE),
# Postfix's recipient_delimiter (to count user+tag@ under user@), how long daily counts stay.
LOG_TIME_ZONE = envstr("LOG_TIME_ZONE")
RECIPIENT_DELIMITER = envstr("RECIPIENT_DELIMITER", "+")
TRAFFIC_KEEP_DAYS = envint("TRAFFIC_KEEP_DAYS", 400)
# /metrics (Prometheus): open to these client addresses, or to anyone sending this bearer token.
METRICS_ALLOW = [a.strip() for a in envstr("METRICS_ALLOW", "127.0.0.1,::1").split(",") if a.strip()]
METRICS_TOKEN = envstr("METRICS_TOKEN")
# How many keys of a freshly built map are queried back before it goes live.
VERIFY_SAMPLE = envint("VERIFY_SAMPLE", 2000)
# Patch a deployed map when few aliases changed instead of building it again.
DEPLOY_PATCH = envbool("DEPLOY_PATCH", True)
# inline: a deploy runs where it is asked for; agent: the web, the API and `aliasdesk deploy`
# only queue it and `aliasdesk agent`, running as the map owner on each mail host, applies it.
DEPLOY_MODE = envstr("DEPLOY_MODE", "inline").strip().lower()
if DEPLOY_MODE not in ("inline", "agent"):
    raise ImproperlyConfigured(f"ALIASDESK_DEPLOY_MODE must be inline or agent, not {DEPLOY_MODE!r}")
# This machine's name among the mail hosts (agent mode, log ingestion).
NODE = envstr("NODE") or socket.gethostname()
# How often an agent looks for queued deploys where the database cannot wake it
# (PostgreSQL's LISTEN/NOTIFY wakes it at once), and how often it reports that it is alive.
AGENT_POLL_SECONDS = float(envstr("AGENT_POLL_SECONDS", "1") or 1)
AGENT_HEARTBEAT_SECONDS = float(envstr("AGENT_HEARTBEAT_SECONDS", "15") or 15)
# Webhooks (docs/webhooks.md): how often `aliasdesk webhooks` looks for due deliveries, and
# whether `aliasdesk agent` sends them too between its deploys.
WEBHOOKS_POLL_SECONDS = float(envstr("WEBHOOKS_POLL_SECONDS", "2") or 2)
AGENT_WEBHOOKS = envbool("AGENT_WEBHOOKS", True)
# After each patch, render the whole map too and refuse the deploy if the two differ (tests).
DEPLOY_PATCH_CHECK = envbool("DEPLOY_PATCH_CHECK", False)

# Kept in the data dir, written by the entry points before Django starts (aliasdesk/datadir.py);
# without it (a read-only data dir), a key per process.
SECRET_KEY = envstr("SECRET_KEY") or stored_secret_key(DATA_DIR) or secrets.token_urlsafe(50)
DEBUG = envbool("DEBUG")
ALLOWED_HOSTS = [h.strip() for h in envstr("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h.strip()]
DEMO_READONLY = envbool("DEMO_READONLY")


# Sign-in security (README, "Sign-in security").
def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = envstr(name, default).strip().lower() or default
    if value not in choices:
        raise ImproperlyConfigured(f"ALIASDESK_{name}={value!r}: expected one of {', '.join(choices)}")
    return value


def _networks(name: str, default: str) -> list[str]:
    """A comma list of addresses or networks, each checked now so a typo stops the start."""
    import ipaddress

    found = []
    for item in (part.strip() for part in envstr(name, default).split(",")):
        if not item:
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError as exc:
            raise ImproperlyConfigured(f"ALIASDESK_{name}: {item!r} is not an address or network ({exc})") from exc
        found.append(item)
    return found


# Who must sign in with a second factor: nobody ("off"), administrators ("admins"), everyone ("all").
TWO_FACTOR_REQUIRED = _choice("2FA_REQUIRED", "off", ("off", "admins", "all"))
# Failed sign-ins (passwords or codes) of one account from one address before it is locked there.
LOGIN_FAILURES = envint("LOGIN_FAILURES", 5)
LOGIN_LOCKOUT_MINUTES = envint("LOGIN_LOCKOUT_MINUTES", 15)
# The reverse proxies whose X-Forwarded-For is believed (aliasdesk/accounts/clientaddr.py).
TRUSTED_PROXIES = _networks("TRUSTED_PROXIES", "127.0.0.1,::1")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "simple_history",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    "aliasdesk.accounts",
    "aliasdesk.aliases",
    "aliasdesk.deploys",
    "aliasdesk.maillog",
    "aliasdesk.web",
    "aliasdesk.api",
    "aliasdesk.webhooks",
    "aliasdesk.dbmove",
    "axes",  # after accounts: its sign-in signal handlers run after ours (audit order)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # the browser's Accept-Language; a user's own choice below
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "aliasdesk.accounts.middleware.UserLanguageMiddleware",
    "aliasdesk.accounts.session_lifetime.AdminSessionMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "aliasdesk.accounts.middleware.TwoFactorMiddleware",
    "aliasdesk.accounts.middleware.ReadOnlyDemoMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "aliasdesk.deploys.onsave.DeployOnSaveMiddleware",  # after messages: it adds some
    "aliasdesk.accounts.middleware.DirectoryRecheckMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

ROOT_URLCONF = "aliasdesk.urls"
WSGI_APPLICATION = "aliasdesk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates", NINJA_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "aliasdesk.accounts.context.readonly",
                "aliasdesk.deploys.context.deploy_mode",
            ],
            # |breakable: long addresses wrap after "@" and "."; {% url %} remembers what it
            # reversed (aliasdesk/aliases/templatetags)
            "builtins": ["aliasdesk.aliases.templatetags.addresses", "aliasdesk.aliases.templatetags.reversing"],
        },
    },
]


def _database() -> dict[str, object]:
    url = envstr("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'aliasdesk.sqlite3'}"
    config: dict[str, object] = dict(dj_database_url.parse(url, conn_max_age=60))
    engine = str(config["ENGINE"])
    if engine.endswith("sqlite3"):
        # Kept open across requests, as the servers' connections: opening one reads the schema
        # again and starts with a cold page cache, a tenth of a domain page's time (issue 13).
        config["CONN_MAX_AGE"] = 60
        # WAL lets readers go on while a writer commits; a busy timeout instead of "database is locked".
        config["OPTIONS"] = {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;",
        }
    elif engine.endswith("mysql"):
        config["OPTIONS"] = {"charset": "utf8mb4", "init_command": "SET sql_mode='STRICT_TRANS_TABLES'"}
        # Test databases (pytest-django) in utf8mb4 whatever the server's default.
        config["TEST"] = {"CHARSET": "utf8mb4"}
    return config


DATABASES = {"default": _database()}
if str(DATABASES["default"]["ENGINE"]).endswith("mysql"):
    import pymysql

    pymysql.install_as_MySQLdb()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Change reasons name keys and files, which may be long: no length limit for them
# (a varchar(100) took them on SQLite and refused them on PostgreSQL and MariaDB).
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True
AUTH_USER_MODEL = "accounts.User"

# Directory login (LDAP / Active Directory), off while ALIASDESK_LDAP_URI is unset: the
# AUTH_LDAP_* settings of django-auth-ldap and LDAP_ENABLED, LDAP_ROLE_GROUPS,
# LDAP_DOMAIN_GROUPS, LDAP_RECHECK_MINUTES. Local accounts are tried first and never reach
# the directory, so a directory that is down or slow never stands in a local login's way.
_directory = directory_settings(os.environ)
LDAP_ENABLED: bool = _directory.pop("LDAP_ENABLED")
LDAP_ROLE_GROUPS: list[tuple[str, str]] = _directory.pop("LDAP_ROLE_GROUPS")
LDAP_DOMAIN_GROUPS: list[tuple[str, str]] = _directory.pop("LDAP_DOMAIN_GROUPS")
LDAP_RECHECK_MINUTES: int = _directory.pop("LDAP_RECHECK_MINUTES")
globals().update(_directory)  # django-auth-ldap's AUTH_LDAP_* settings
# django-axes checks the lockout first; local accounts next (a down directory never slows
# them), then the directory.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "aliasdesk.accounts.backends.LocalBackend"]
if LDAP_ENABLED:
    AUTHENTICATION_BACKENDS.append("aliasdesk.accounts.directory.DirectoryBackend")

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AXES_FAILURE_LIMIT = LOGIN_FAILURES
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]  # that account from that address, nothing wider
AXES_CLIENT_IP_CALLABLE = "aliasdesk.accounts.clientaddr.client_address"
AXES_LOCKOUT_CALLABLE = "aliasdesk.accounts.login_views.locked_out"
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # locked for LOGIN_LOCKOUT_MINUTES, not longer
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are in the audit log
AXES_ENABLE_ADMIN = False
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "code"]
OTP_TOTP_ISSUER = "aliasdesk"

LANGUAGE_CODE = "en"
# English and German, both complete (tests/test_translations.py). The browser's Accept-Language
# chooses; a user's own choice (User.language) wins once signed in.
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["aliasdesk.formats"]
TIME_ZONE = envstr("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static", NINJA_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Behind TLS (README "Running behind TLS"): the proxy terminates TLS and says so in
# X-Forwarded-Proto; only it may reach aliasdesk's port. /healthz and /metrics stay plain HTTP
# for the monitor and Prometheus on the host, which ask 127.0.0.1 directly.
HTTPS = envbool("HTTPS")
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = envint("HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = envbool("HSTS_PRELOAD")
# Preloading commits the whole registered domain to HTTPS in every browser: a decision for
# the domain's owner (ALIASDESK_HSTS_PRELOAD=1), not a default that deploy checks may demand.
SILENCED_SYSTEM_CHECKS = [] if HTTPS and envbool("HSTS_PRELOAD") else ["security.W021"]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Sessions end this many minutes after sign-in; administrators' sooner.
SESSION_COOKIE_AGE = envint("SESSION_MINUTES", 14 * 24 * 60) * 60
ADMIN_SESSION_MINUTES = envint("ADMIN_SESSION_MINUTES", 8 * 60)

# Content-Security-Policy, enforced: no inline script or style anywhere (static files only).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

# Large posts: pastes and map uploads up to 20 MB (100,000 lines); beyond, the page says so (413).
MAX_PASTE_BYTES = envint("MAX_PASTE_BYTES", 20 * 1024 * 1024)
# The form's other fields, and the CR that browsers send before every LF of a textarea.
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_PASTE_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024  # larger uploads go to a temporary file
# Bulk files (a map, CSV or XLSX) uploaded for a preview on a domain's "Upload" page.
MAX_UPLOAD_BYTES = envint("MAX_UPLOAD_BYTES", 50 * 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 5000  # bulk actions post up to 1000 ids

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/domains/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "WARNING")},
    # django-auth-ldap warns about every missing optional attribute (givenName, mail) at each
    # sign-in; aliasdesk.accounts.directory logs what matters (directory unreachable, refusals).
    "loggers": {"django_auth_ldap": {"level": "ERROR"}},
}
