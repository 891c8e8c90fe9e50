"""Login, signed session cookies, roles and CSRF protection for the portal and the dashboard.

Sessions are a cookie with the user id, the user's session version, an expiry and a CSRF token,
signed with HMAC-SHA256. Every request reloads the user and compares the version, so logout, a password
change, a deactivated account or a changed team take effect at once, also for copies of the cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
import unicodedata
from collections.abc import Awaitable, Callable
from functools import wraps
from urllib.parse import quote, unquote, urlsplit

import aiohttp_jinja2
from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import models
from bot.db import run_in_session
from bot.edge.gate import client_ip
from bot.web.throttle import LoginThrottle, wait_text

log = logging.getLogger(__name__)

COOKIE = "loket_session"
SESSION_SECONDS = 8 * 3600
ROLES = ("makelaar", "coordinatie", "admin")
_hasher = PasswordHasher()
# A fixed hash to verify against when the user does not exist, so timing does not reveal usernames.
_DUMMY_HASH = _hasher.hash("dummy-password-for-timing")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_user(session: Session, username: str, password: str, role: str,
                team_id: str | None = None, display_name: str = "") -> models.User:
    if role not in ROLES:
        raise ValueError(f"onbekende rol {role!r}; kies uit {', '.join(ROLES)}")
    if role == "makelaar" and not team_id:
        raise ValueError("een makelaar hoort bij een team: geef --team")
    if team_id and session.get(models.Makelaarsteam, team_id) is None:
        raise ValueError(f"onbekend team {team_id!r}; laad eerst de kennisbank")
    if len(password) < 10:
        raise ValueError("het wachtwoord moet minstens 10 tekens hebben")
    if session.execute(select(models.User).where(models.User.username == username)).first():
        raise ValueError(f"gebruiker {username!r} bestaat al")
    user = models.User(username=username, password_hash=hash_password(password), role=role,
                       team_id=team_id, display_name=display_name or username)
    session.add(user)
    session.flush()
    return user


def end_sessions(user: models.User) -> None:
    """Every cookie issued to `user` so far stops working (inside the caller's transaction)."""
    user.session_version = (user.session_version or 0) + 1


def set_password(session: Session, user: models.User, password: str) -> None:
    """A new password; the sessions that were logged in with the old one end."""
    if len(password) < 10:
        raise ValueError("het wachtwoord moet minstens 10 tekens hebben")
    user.password_hash = hash_password(password)
    end_sessions(user)
    session.flush()


# --- cookie signing ------------------------------------------------------------------------


def _sign(secret: str, payload: bytes) -> str:
    mac = hmac.new(secret.encode(), payload, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def encode_session(secret: str, data: dict) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode())
    return f"{payload.decode()}.{_sign(secret, payload)}"


def decode_session(secret: str, value: str) -> dict | None:
    try:
        payload, mac = value.rsplit(".", 1)
    except ValueError:
        return None
    if not hmac.compare_digest(_sign(secret, payload.encode()), mac):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except (ValueError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or data.get("exp", 0) < time.time():
        return None
    return data


def _set_cookie(request: web.Request, response: web.StreamResponse, data: dict) -> None:
    settings = request.app["settings"]
    response.set_cookie(
        COOKIE, encode_session(settings.secret_key, data), max_age=SESSION_SECONDS,
        httponly=True, secure=settings.secure_cookies, samesite="Strict", path="/",
    )


# --- middleware ----------------------------------------------------------------------------


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request["user"] = None
    request["session"] = None
    raw = request.cookies.get(COOKIE)
    if raw:
        data = decode_session(request.app["settings"].secret_key, raw)
        if data:
            user = await run_in_session(lambda s: s.get(models.User, data.get("uid")),
                                        request.app["engine"])
            if (user is not None and user.active
                    and data.get("sv") == (user.session_version or 0)):
                request["user"] = user
                request["session"] = data
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and request["user"] is not None:
        await _check_csrf(request)
    return await handler(request)


async def _check_csrf(request: web.Request) -> None:
    expected = request["session"].get("csrf", "")
    sent = request.headers.get("X-CSRF-Token", "")
    if not sent and request.content_type in ("application/x-www-form-urlencoded",
                                             "multipart/form-data"):
        sent = (await request.post()).get("csrf_token", "")
    if not expected or not hmac.compare_digest(str(sent), expected):
        raise web.HTTPForbidden(text="Ongeldig of verlopen formulier. Laad de pagina opnieuw.")


def csrf_token(request: web.Request) -> str:
    session = request.get("session") or {}
    return session.get("csrf", "")


# --- guards --------------------------------------------------------------------------------


def require_role(*roles: str, api: bool = False):
    """Only users with one of `roles` pass. Pages redirect to the login; the API answers 401/403."""

    def decorator(handler: Handler) -> Handler:
        @wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            user = request.get("user")
            if user is None:
                if api:
                    raise web.HTTPUnauthorized(
                        text=json.dumps({"error": "niet ingelogd"}), content_type="application/json")
                raise web.HTTPFound(f"/inloggen?next={quote(request.path_qs)}")
            if user.role not in roles and user.role != "admin":
                if api:
                    raise web.HTTPForbidden(
                        text=json.dumps({"error": "geen toegang"}), content_type="application/json")
                raise web.HTTPForbidden(text="U heeft geen toegang tot deze pagina.")
            return await handler(request)

        return wrapper

    return decorator


# --- login and logout pages ----------------------------------------------------------------


def _is_local_path(target: str) -> bool:
    """A path on this site only. Browsers drop tabs and newlines from a Location and read a backslash
    as "/", so "/<tab>/evil.example" would become "//evil.example": another host."""
    decoded = unquote(target)
    for text in (target, decoded):
        if any(c == "\\" or unicodedata.category(c)[0] == "C" or unicodedata.category(c) in ("Zl", "Zp")
               for c in text):
            return False  # control, format, unassigned and line-break characters; backslashes
        if not text.startswith("/") or text.startswith("//"):
            return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def _safe_next(target: str | None, default: str) -> str:
    # Only local paths: an open redirect would let a phishing link use our login page.
    if target and len(target) <= 2000 and _is_local_path(target):
        return target
    return default


def home_for(user: models.User) -> str:
    return "/coordinatie" if user.role == "coordinatie" else "/portaal"


@aiohttp_jinja2.template("login.html")
async def login_page(request: web.Request) -> dict:
    return {"next": request.query.get("next", ""), "error": None, "username": ""}


def web_client_ip(request: web.Request) -> str:
    """The client's address behind LOKET_PROXY_COUNT trusted proxies (the chat uses the same rule)."""
    return client_ip(request.remote, request.headers.get("X-Forwarded-For"),
                     request.app["settings"].proxy_count)


def _login_refused(request: web.Request, form, username: str, error: str,
                   status: int) -> web.StreamResponse:
    response = aiohttp_jinja2.render_template(
        "login.html", request, {"next": form.get("next", ""), "username": username, "error": error})
    response.set_status(status)
    return response


def _too_many(request: web.Request, form, username: str, wait: int) -> web.StreamResponse:
    response = _login_refused(
        request, form, username,
        f"U heeft te vaak een verkeerd wachtwoord ingevuld. Wacht {wait_text(wait)}. "
        "Probeer het daarna opnieuw.", 429)
    response.headers["Retry-After"] = str(wait)
    return response


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", "")).strip()[:120]
    password = str(form.get("password", ""))[:500]
    throttle: LoginThrottle = request.app["login_throttle"]
    address = web_client_ip(request)
    wait = throttle.retry_after(username, address)
    if wait:  # refused before the password is checked: no guessing while waiting
        return _too_many(request, form, username, wait)

    def check(session: Session) -> tuple[models.User | None, bool]:
        """(the user when the password is right, whether the username is an account)."""
        user = session.execute(
            select(models.User).where(models.User.username == username)
        ).scalar_one_or_none()
        if user is None or not user.active:
            verify_password(_DUMMY_HASH, password)
            return None, user is not None
        if not verify_password(user.password_hash, password):
            return None, True
        user.last_login_at = models.utcnow()
        return user, True

    user, known = await run_in_session(check, request.app["engine"])
    if user is None:
        wait = throttle.failure(username, address)
        # Never the password; and no unknown username either: people type their password there.
        log.warning("login failed for %s from %s%s", f"account {username!r}" if known else
                    "an unknown username", address, f"; next try in {wait} s" if wait else "")
        return _login_refused(request, form, username,
                              "De gebruikersnaam of het wachtwoord klopt niet.", 401)
    throttle.success(username)
    target = _safe_next(str(form.get("next", "")), home_for(user))
    response = web.HTTPFound(target)
    _set_cookie(request, response, {"uid": user.id, "sv": user.session_version or 0,
                                    "exp": int(time.time()) + SESSION_SECONDS,
                                    "csrf": secrets.token_urlsafe(24)})
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    user = request.get("user")
    if user is not None:
        # Ends this user's sessions everywhere, so a copied or stolen cookie stops working too.
        await run_in_session(lambda s: end_sessions(s.get(models.User, user.id)), request.app["engine"])
    response = web.HTTPFound("/inloggen")
    response.del_cookie(COOKIE, path="/")
    return response


def setup_routes(app: web.Application) -> None:
    app["login_throttle"] = LoginThrottle()
    app.router.add_get("/inloggen", login_page, name="login")
    app.router.add_post("/inloggen", login_submit)
    app.router.add_post("/uitloggen", logout, name="logout")
