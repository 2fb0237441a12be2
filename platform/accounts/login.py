"""The sign-in page with the brute-force limiter's answer in words (and status 429)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from accounts import ratelimit


class RateLimitedAuthenticationForm(AuthenticationForm):
    """Says how long to wait when the account or address is locked.

    The lock itself is enforced in the authentication backend; this form only asks
    first, so that a locked sign-in gets the wait instead of "wrong password".
    """

    locked_for = 0

    def clean(self):
        username = self.cleaned_data.get("username")
        self._refuse_if_locked(username)
        try:
            super().clean()
        except ValidationError:
            # This very attempt may have been the one that locked the account.
            self._refuse_if_locked(username)
            raise
        return self.cleaned_data

    def _refuse_if_locked(self, username) -> None:
        wait = ratelimit.wait_seconds(username, ratelimit.client_address(self.request))
        if wait:
            self.locked_for = wait
            raise ValidationError(ratelimit.wait_message(wait), code="rate_limited")


class LoginView(auth_views.LoginView):
    form_class = RateLimitedAuthenticationForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.locked_for:
            response.status_code = 429
            response["Retry-After"] = str(form.locked_for)
        return response
