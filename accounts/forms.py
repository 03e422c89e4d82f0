"""The login form."""

from django import forms
from django.utils.translation import gettext_lazy as _


class LoginForm(forms.Form):
    tenant_code = forms.CharField(label=_("Tenant code"), max_length=50)
    username = forms.CharField(label=_("Username"), max_length=150)
    password = forms.CharField(
        label=_("Password"), max_length=4096, strip=False, widget=forms.PasswordInput
    )
