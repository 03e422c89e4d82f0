"""Login, logout and the signed-in home page."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from core.context import tenant_context
from accounts import services
from logs.models import SignInRefusal
from accounts.forms import LoginForm


def refusal_message(refusal: SignInRefusal) -> str:
    """Return the message shown for a refused sign-in."""
    if refusal == SignInRefusal.BAD_CREDENTIALS:
        return _("The tenant code, username or password is incorrect.")
    if refusal == SignInRefusal.LOCKED:
        return _("This account is locked after repeated failed sign-ins. Try again later "
                 "or ask an administrator to unlock it.")
    if refusal in (SignInRefusal.TENANT_INACTIVE, SignInRefusal.TENANT_EXPIRED):
        return _("This organisation's access is suspended. Contact the platform operator.")
    return _("This account is disabled. Ask an administrator.")


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    """Show the login page; sign the user in with tenant code, username and password."""
    form = LoginForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        result = services.sign_in(services.Credentials(**form.cleaned_data), request=request)
        if result.ok:
            # Signing in writes the user's row (its last login): in the user's tenant.
            with tenant_context(result.user.tenant_id):
                login(request, result.user, backend=settings.AUTHENTICATION_BACKENDS[0])
            return redirect(_safe_next(request) or settings.LOGIN_REDIRECT_URL)
        error = refusal_message(result.refusal)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "accounts/login.html",
        {"form": form, "error": error, "next": _safe_next(request)},
        status=status,
    )


@login_required
def home_view(request: HttpRequest) -> HttpResponse:
    """Show who is signed in, in which tenant, and where to go next."""
    user = request.user
    return render(
        request,
        "accounts/home.html",
        {"department": user.department, "position": user.position},
    )
