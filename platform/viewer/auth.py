"""Authentication of the image endpoints for clients without a browser session.

Browsers use the session cookie. Outside DICOMweb clients (dicomweb-client, OHIF with
a proxy, scripts) send HTTP Basic credentials of an ordinary OsteoLens account; the same
object permissions apply. Basic sends the password with every request, so the site must
be served over HTTPS (SECURE_COOKIES / a TLS proxy) for anything but loopback.

Wrong passwords count towards the same lock as the login page (accounts.ratelimit):
once locked, an account or address gets 429 with Retry-After, right password or not.

Checking a password costs a deliberately slow hash (hundreds of milliseconds), far too
much for per-file requests, so a success is remembered for a short time in process
memory under an HMAC of the credentials (never the password itself). Deactivating a
user or changing the password takes effect within CACHE_SECONDS.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import time
from functools import wraps

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.http import HttpResponse

REALM = "OsteoLens DICOMweb"
CACHE_SECONDS = 60
CACHE_MAX = 1024
_cache: dict[bytes, tuple[float, int, str]] = {}
_lock = threading.Lock()


def _credentials(request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


def _key(username: str, password: str) -> bytes:
    secret = hashlib.sha256(b"viewer-basic-auth:" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(secret, f"{username}\0{password}".encode(), hashlib.sha256).digest()


def _cached_user(key: bytes):
    with _lock:
        hit = _cache.get(key)
    if not hit or hit[0] < time.monotonic():
        return None
    _expires, pk, password_hash = hit
    user = get_user_model()._default_manager.filter(pk=pk, is_active=True).first()
    # A changed password changes the stored hash: the remembered success no longer counts.
    return user if user is not None and user.password == password_hash else None


def basic_auth_user(request):
    """The active user named by valid Basic credentials, else None."""
    creds = _credentials(request)
    if creds is None:
        return None
    key = _key(*creds)
    user = _cached_user(key)
    if user is not None:
        return user
    user = authenticate(request, username=creds[0], password=creds[1])
    if user is None or not user.is_active:
        return None
    with _lock:
        if len(_cache) >= CACHE_MAX:
            _cache.clear()
        _cache[key] = (time.monotonic() + CACHE_SECONDS, user.pk, user.password)
    return user


def too_many_attempts(seconds: int) -> HttpResponse:
    from accounts.ratelimit import wait_message

    response = HttpResponse(wait_message(seconds), status=429, content_type="text/plain")
    response["Retry-After"] = str(seconds)
    return response


def _locked_for(request) -> int:
    """Seconds the Basic credentials' account or the client address stays locked."""
    from accounts import ratelimit

    creds = _credentials(request)
    return ratelimit.wait_seconds(creds[0] if creds else None, ratelimit.client_address(request))


def unauthorized() -> HttpResponse:
    response = HttpResponse("Authentication required.", status=401, content_type="text/plain")
    response["WWW-Authenticate"] = f'Basic realm="{REALM}", charset="UTF-8"'
    return response


def image_auth(view=None, *, browser: bool = True):
    """Session or Basic authentication; the user is put on request.user.

    browser=True (pages and wadouri files used by the viewer): anonymous users are sent
    to the login page. browser=False (DICOMweb): they get 401 with a Basic challenge.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                user = basic_auth_user(request)
                if user is not None:
                    request.user = user
                elif "Authorization" in request.headers or not browser:
                    # Wrong credentials count towards the sign-in lock (accounts.ratelimit,
                    # in the backend); once locked, the client is told how long to wait.
                    locked = _locked_for(request) if "Authorization" in request.headers else 0
                    return too_many_attempts(locked) if locked else unauthorized()
                else:
                    from django.contrib.auth.views import redirect_to_login

                    return redirect_to_login(request.get_full_path())
            return view(request, *args, **kwargs)

        return wrapper

    return decorator(view) if view is not None else decorator
