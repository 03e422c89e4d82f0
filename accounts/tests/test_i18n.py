"""Languages (issue 3, item 10): English and Simplified Chinese, the user's choice over the
browser's, on the pages, the admin and the API."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from accounts.services import api_keys
from accounts.models import User
from conftest import make_user

PO_FILE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
LOGIN_URL = reverse("accounts:login")
HOME_URL = reverse("home")
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}
CHINESE = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}


@pytest.fixture(autouse=True)
def keep_language():
    """Leave the thread's language as it was: the requests here activate Chinese."""
    with translation.override(translation.get_language()):
        yield


def set_language(user: User, language: str) -> User:
    """Store ``language`` as the user's choice, bypassing the model's save()."""
    User.objects.all_tenants().filter(pk=user.pk).update(language=language)
    user.language = language
    return user


def api_client(user: User, **headers) -> APIClient:
    """Return an API client signed in as ``user`` with a session, sending ``headers``."""
    client = APIClient(**headers)
    client.force_login(user)
    return client


def error_of(response, status: int) -> dict:
    """Assert an error in the API's format with ``status`` and return its body."""
    assert response.status_code == status, response.content
    return response.json()["error"]


# --------------------------------------------------------------------------- the browser


@pytest.mark.django_db
def test_login_page_follows_the_browser_language(client):
    """An anonymous visitor gets the login page in the language the browser asks for."""
    chinese = client.get(LOGIN_URL, **CHINESE)
    assert chinese["Content-Language"] == "zh-hans"
    assert "登录" in chinese.content.decode()
    assert "租户编码" in chinese.content.decode()
    assert "Sign in" not in chinese.content.decode()

    english = client.get(LOGIN_URL, **ENGLISH)
    assert english["Content-Language"] == "en"
    assert "Sign in" in english.content.decode()


@pytest.mark.django_db
def test_refused_sign_in_message_is_translated(client, tenant_a):
    """The login page's refusal message follows the browser's language too."""
    response = client.post(
        LOGIN_URL, {"tenant_code": "alpha", "username": "nobody", "password": "x"}, **CHINESE
    )
    assert response.status_code == 400
    assert "租户编码、用户名或密码不正确。" in response.content.decode()


@pytest.mark.django_db
def test_user_without_a_language_follows_the_browser(client, tenant_a):
    """A user who chose no language sees the browser's."""
    user = make_user(tenant_a, "alice")
    assert user.language == ""
    client.force_login(user)
    assert "欢迎" in client.get(HOME_URL, **CHINESE).content.decode()
    english = client.get(HOME_URL, **ENGLISH)
    assert "Welcome" in english.content.decode()
    assert english["Content-Language"] == "en"


# --------------------------------------------------------------------------- the user's choice


@pytest.mark.django_db
def test_user_language_wins_over_the_browser(client, tenant_a):
    """A user who chose Chinese sees Chinese even when the browser asks for English."""
    user = set_language(make_user(tenant_a, "alice"), "zh-hans")
    client.force_login(user)
    response = client.get(HOME_URL, **ENGLISH)
    content = response.content.decode()
    assert response["Content-Language"] == "zh-hans"
    assert '<html lang="zh-hans">' in content
    assert "欢迎" in content and "退出登录" in content
    assert "Welcome" not in content


@pytest.mark.django_db
def test_user_choice_of_english_wins_over_a_chinese_browser(client, tenant_a):
    """The choice works both ways: English for a user whose browser asks for Chinese."""
    user = set_language(make_user(tenant_a, "alice"), "en")
    client.force_login(user)
    assert "Welcome" in client.get(HOME_URL, **CHINESE).content.decode()


@pytest.mark.django_db
def test_admin_shows_the_language_field_translated(client, admin_a):
    """The user admin's Profile has the language field; a Chinese user sees it in Chinese."""
    set_language(admin_a, "zh-hans")
    client.force_login(admin_a)
    response = client.get(reverse("admin:accounts_user_change", args=[admin_a.pk]), **ENGLISH)
    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="language"' in content
    assert "个人资料" in content and "简体中文" in content


# --------------------------------------------------------------------------- the API


@pytest.mark.django_db
def test_api_400_is_translated_for_a_chinese_user(admin_a):
    """Validation errors of the API speak the user's language."""
    client = api_client(set_language(admin_a, "zh-hans"), **ENGLISH)
    response = client.post(reverse("api:user-list"), {"username": "bob"}, format="json")
    error = error_of(response, 400)
    assert error["message"] == "输入无效。"
    assert error["fields"]["password"] == ["请为新用户设置密码。"]


@pytest.mark.django_db
def test_api_403_is_translated_for_a_chinese_user(tenant_a):
    """A refused permission is explained in the user's language."""
    user = set_language(make_user(tenant_a, "alice"), "zh-hans")
    error = error_of(api_client(user, **ENGLISH).get(reverse("api:user-list")), 403)
    assert error["message"] == "您没有权限 user:view。"


@pytest.mark.django_db
def test_api_errors_stay_english_for_an_english_user(tenant_a):
    """Without a choice and with an English browser the messages are unchanged."""
    user = make_user(tenant_a, "alice")
    error = error_of(api_client(user, **ENGLISH).get(reverse("api:user-list")), 403)
    assert error["message"] == "You do not have the permission user:view."


@pytest.mark.django_db
def test_api_key_requests_use_the_key_user_language(admin_a):
    """A key-authenticated request (no session) speaks its user's language."""
    set_language(admin_a, "zh-hans")
    _key, plaintext = api_keys.issue_api_key(user=admin_a, name="ci", scopes=["user:view"])
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {plaintext}", **ENGLISH)
    error = error_of(client.get(reverse("api:role-list")), 403)
    assert error["message"] == "该 API 密钥的作用域不包含 role:view。"


@pytest.mark.django_db
def test_api_sets_and_validates_the_language(admin_a, tenant_a):
    """The user API reads and writes ``language`` and refuses codes that are not offered."""
    user = make_user(tenant_a, "alice")
    client = api_client(admin_a, **ENGLISH)
    url = reverse("api:user-detail", args=[user.pk])

    refused = error_of(client.patch(url, {"language": "fr"}, format="json"), 400)
    assert set(refused["fields"]) == {"language"}
    assert User.objects.all_tenants().get(pk=user.pk).language == ""

    response = client.patch(url, {"language": "zh-hans"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["language"] == "zh-hans"
    assert User.objects.all_tenants().get(pk=user.pk).language == "zh-hans"

    response = client.patch(url, {"language": ""}, format="json")
    assert response.status_code == 200, response.content
    assert client.get(url).json()["language"] == ""


# --------------------------------------------------------------------------- the catalogue


def po_entries(text: str) -> list[dict]:
    """Return the entries of a .po file: flags and every msgid/msgstr field, joined."""
    entries = []
    for block in re.split(r"\n\s*\n", text.strip()):
        entry: dict = {"flags": [], "fields": {}}
        key = None
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["flags"] += [flag.strip() for flag in line[2:].split(",")]
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                entry["fields"][key] += ast.literal_eval(line)
            else:
                key, value = line.split(" ", 1)
                entry["fields"][key] = ast.literal_eval(value)
        entries.append(entry)
    return entries


def test_chinese_catalogue_is_complete():
    """Every message has a Chinese translation, none is fuzzy, placeholders are kept."""
    entries = po_entries(PO_FILE.read_text(encoding="utf-8"))
    header, messages = entries[0], entries[1:]
    assert header["fields"]["msgid"] == ""
    assert "fuzzy" not in header["flags"]
    assert len(messages) > 300
    placeholder = re.compile(r"%\(\w+\)[sd]")
    for entry in messages:
        fields = entry["fields"]
        assert "fuzzy" not in entry["flags"], fields["msgid"]
        translations = [value for key, value in fields.items() if key.startswith("msgstr")]
        assert translations and all(translations), f"untranslated: {fields['msgid']!r}"
        for value in translations:
            assert set(placeholder.findall(value)) <= set(
                placeholder.findall(fields["msgid"] + fields.get("msgid_plural", ""))
            ), fields["msgid"]


def test_languages_are_english_and_simplified_chinese():
    """The platform ships exactly the two languages the issue names."""
    assert [code for code, _name in settings.LANGUAGES] == ["en", "zh-hans"]
    with translation.override("zh-hans"):
        assert str(User._meta.get_field("language").verbose_name) == "语言"
