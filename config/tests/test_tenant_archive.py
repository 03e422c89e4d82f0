"""One tenant's data out and back: ``export_tenant`` and ``import_tenant`` (issue 19 item 5)."""

from __future__ import annotations

import datetime as dt
import io
import json
import tarfile
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.utils import timezone

from accounts.models import ApiKey, Department, User
from accounts.services import Credentials, sign_in
from config import tenant_archive
from config.management.commands.seed_demo import DEMO_PASSWORD
from core.context import tenant_context
from core.crypto import SecretUnreadable
from logs.models import AuditLog, LoginLog
from notifications.models import Notification, NotificationUser
from tenants.models import Dictionary, DictionaryItem, Tenant
from testing.models import DatabaseConfig, Project, Variable
from testing.tests.factories import make

pytestmark = pytest.mark.django_db(databases="__all__")  # seed_demo's rollup is routed


def _tenant(code: str) -> Tenant:
    return Tenant.objects.get(code=code)


def _add_rows(tenant: Tenant) -> None:
    """Give ``tenant`` rows in the apps the demo leaves empty: a deeper department tree,
    a dictionary, a sealed database password, a notification, logs, generic references."""
    admin = User.objects.all_tenants().get(tenant=tenant, username="admin")
    alice = User.objects.all_tenants().get(tenant=tenant, username="alice")
    with tenant_context(tenant):
        root = Department.objects.filter(parent=None).first()
        child = make(Department, tenant, code="field-ops", name="Field operations", parent=root)
        make(Department, tenant, code="field-ops-night", name="Night shift", parent=child)
        dictionary = make(Dictionary, tenant, type="priority", name="Priority")
        make(DictionaryItem, tenant, dictionary=dictionary, label="High", value="high")
        project = Project.objects.first() or make(Project, tenant, name="Archive project")
        make(DatabaseConfig, tenant, project=project, name="Orders DB", variable_name="orders",
             db_type="postgresql", host="db.example", port=5432, username="app",
             password="s3cret-password")
        notification = Notification(tenant=tenant, title="Hello", content="Welcome",
                                    sender=admin)
        notification.save()
        NotificationUser.objects.create(notification=notification, user=alice)
        old = LoginLog.objects.create(tenant=tenant, user=alice, tenant_code=tenant.code,
                                      username="alice", login_status="success")
        LoginLog.objects.create(tenant=tenant, user=alice, tenant_code=tenant.code,
                                username="alice", login_status="success")
        LoginLog.objects.all_tenants().filter(pk=old.pk).update(
            created_at=timezone.now() - dt.timedelta(days=40))
        AuditLog.objects.create(tenant=tenant, user=admin, request_id="r1",
                                entity_type="accounts.user", entity_id=str(alice.pk),
                                action="update", new_value={"name": "Alice"})
    LogEntry.objects.create(user=admin, content_type=ContentType.objects.get_for_model(User),
                            object_id=str(alice.pk), object_repr="alice", action_flag=CHANGE)


@pytest.fixture
def demo():
    call_command("seed_demo", stdout=io.StringIO())
    for code in ("acme", "globex"):
        _add_rows(_tenant(code))


def snapshot(code: str) -> dict:
    """Return every table's rows and checksum of one tenant, read as the export reads."""
    tables = tenant_archive.tenant_tables()
    rows, _dropped = tenant_archive.read_tenant(_tenant(code), tables,
                                                tenant_archive.LogWindow())
    return {"rows": rows, "checksums": tenant_archive.table_checksums(tables, rows)}


def export(code: str, path: Path, *args: str) -> dict:
    call_command("export_tenant", code, "--out", str(path), *args, stdout=io.StringIO())
    with tarfile.open(path) as archive:
        return json.loads(archive.extractfile("manifest.json").read())


def rewrite(path: Path, change) -> None:
    """Rewrite the archive at ``path``: ``change(files)`` edits the dict of its files."""
    with tarfile.open(path) as archive:
        files = {m.name: archive.extractfile(m).read() for m in archive.getmembers()}
    change(files)
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def tenant_row_count(code: str) -> int:
    tenant = Tenant.objects.filter(code=code).first()
    if tenant is None:
        return 0
    return sum(len(rows) for rows in snapshot(code)["rows"].values())


def test_every_model_is_exported_global_or_excluded_on_purpose():
    """A new model falls in a class by itself; a global one a tenant row refers to has a
    natural key, and every tenant table has a key the import can renew."""
    tables = tenant_archive.tenant_tables()
    exported = {t.model for t in tables}
    global_models = set(tenant_archive.global_models())
    for model in apps.get_models(include_auto_created=True):
        label = model._meta.label
        assert (model in exported or model in global_models or model is Tenant
                or label in tenant_archive.EXCLUDED), label
    for table in tables:
        pk = table.model._meta.pk
        assert pk.get_internal_type() in ("UUIDField", "AutoField", "BigAutoField"), table.label
        for field in table.model._meta.concrete_fields:
            if field.is_relation and field.related_model in global_models:
                assert tenant_archive.natural_key_fields(field.related_model)
    labels = {t.label for t in tables}
    assert {"accounts.User", "accounts.Department", "rbac.UserRole", "logs.AuditLog",
            "testing.ScenarioStep", "notifications.NotificationUser",
            "testing.TestPlan_notify_users", "mcp.McpToolCallLog"} <= labels
    assert "rbac.Permission" not in labels and "tenants.TenantPackage" not in labels


def test_round_trip_as_a_new_code_is_verified_and_leaves_other_tenants_alone(demo, tmp_path):
    """acme exported and imported as acme-copy has acme's counts and checksums, new keys,
    working sign-ins, open sealed secrets, a consistent department tree and remapped
    generic references; acme and globex are unchanged."""
    acme_before, globex_before = snapshot("acme"), snapshot("globex")
    manifest = export("acme", tmp_path / "acme.tar.gz")
    assert manifest["format"] == "atrium-tenant-archive" and manifest["format_version"] == 1
    assert manifest["tenant"]["code"] == "acme"
    counts = {entry["model"]: entry["rows"] for entry in manifest["tables"]}
    assert counts["accounts.Department"] == 6 and counts["logs.LoginLog"] == 2
    assert counts["rbac.RolePermission"] > 0 and counts["testing.ScenarioStep"] > 0
    assert counts["admin.LogEntry"] == 1 and counts["notifications.NotificationUser"] == 1

    out = io.StringIO()
    call_command("import_tenant", str(tmp_path / "acme.tar.gz"), "--as", "acme-copy",
                 stdout=out)
    assert "Verified: row counts and content checksums equal the manifest." in out.getvalue()

    copy = snapshot("acme-copy")
    assert copy["checksums"] == {e["model"]: e["checksum"] for e in manifest["tables"]}
    assert {k: len(v) for k, v in copy["rows"].items()} == counts
    assert snapshot("acme") == acme_before and snapshot("globex") == globex_before

    acme, acme_copy = _tenant("acme"), _tenant("acme-copy")
    old_ids = set(User.objects.all_tenants().filter(tenant=acme).values_list("pk", flat=True))
    new_users = User.objects.all_tenants().filter(tenant=acme_copy)
    assert new_users.count() == len(old_ids) and not old_ids & {u.pk for u in new_users}
    assert sign_in(Credentials("acme-copy", "alice", DEMO_PASSWORD)).ok

    # The tree: same shape, own tree ids, every row's parent inside the copy.
    with tenant_context(acme_copy):
        night = Department.objects.get(code="field-ops-night")
        assert [d.code for d in night.get_ancestors()][1:] == ["field-ops"]
        assert night.parent.tenant_id == acme_copy.pk
        copy_trees = set(Department.objects.values_list("tree_id", flat=True))
    with tenant_context(acme):
        assert not copy_trees & set(Department.objects.values_list("tree_id", flat=True))
        source_password = DatabaseConfig.objects.get(name="Orders DB").password
        source_key = ApiKey.objects.get()
    with tenant_context(acme_copy):
        assert DatabaseConfig.objects.get(name="Orders DB").password == source_password
        assert Variable.objects.filter(secret_value__isnull=False).exists()
        copied_key = ApiKey.objects.get()
        # A copy never shares a credential: same hash, new prefix.
        assert copied_key.key_hash == source_key.key_hash
        assert copied_key.prefix != source_key.prefix
        alice = User.objects.get(username="alice")
        audit = AuditLog.objects.get(entity_type="accounts.user")
        assert audit.entity_id == str(alice.pk)
    assert LogEntry.objects.get(user__tenant=acme_copy).object_id == str(alice.pk)


def test_import_refuses_a_tenant_that_has_data(demo, tmp_path):
    """Importing over globex is refused and changes nothing."""
    export("acme", tmp_path / "acme.tar.gz")
    before = snapshot("globex")
    with pytest.raises(CommandError, match="already has data"):
        call_command("import_tenant", str(tmp_path / "acme.tar.gz"), "--as", "globex")
    assert snapshot("globex") == before


def test_import_into_an_existing_empty_tenant(demo, tmp_path):
    """A tenant that owns no rows takes the archive's rows."""
    export("globex", tmp_path / "globex.tar.gz")
    Tenant.objects.create(code="empty", name="Empty")
    call_command("import_tenant", str(tmp_path / "globex.tar.gz"), "--as", "empty",
                 stdout=io.StringIO())
    assert snapshot("empty")["checksums"] == snapshot("globex")["checksums"]


def test_a_mismatch_found_after_inserting_leaves_nothing(demo, tmp_path):
    """An archive whose content differs from its manifest's checksum (its file hash made to
    match) fails the verification after every row was inserted, and nothing remains."""
    path = tmp_path / "acme.tar.gz"
    export("acme", path)

    def tamper(files):
        manifest = json.loads(files["manifest.json"])
        entry = next(e for e in manifest["tables"] if e["model"] == "accounts.Position")
        rows = [json.loads(line) for line in files[entry["file"]].splitlines()]
        rows[0]["name"] = "Tampered"
        data = "".join(json.dumps(row) + "\n" for row in rows).encode()
        files[entry["file"]] = data
        import hashlib

        entry["file_sha256"] = hashlib.sha256(data).hexdigest()
        files["manifest.json"] = json.dumps(manifest).encode()

    rewrite(path, tamper)
    users_before = User.objects.all_tenants().count()
    with pytest.raises(CommandError, match=r"does not match the archive.*accounts.Position"):
        call_command("import_tenant", str(path), "--as", "acme-broken")
    assert not Tenant.objects.filter(code="acme-broken").exists()
    assert User.objects.all_tenants().count() == users_before


def test_a_missing_global_row_stops_the_import_midway_and_leaves_nothing(demo, tmp_path):
    """A role grant of a permission this platform lacks is a clear error, and the rows
    inserted before it are gone."""
    path = tmp_path / "acme.tar.gz"
    manifest = export("acme", path)
    entry = next(e for e in manifest["tables"] if e["model"] == "rbac.RolePermission")

    def tamper(files):
        rows = [json.loads(line) for line in files[entry["file"]].splitlines()]
        rows[-1]["permission_id"] = ["nothing:here"]
        data = "".join(json.dumps(row) + "\n" for row in rows).encode()
        files[entry["file"]] = data
        new_manifest = json.loads(files["manifest.json"])
        import hashlib

        for item in new_manifest["tables"]:
            if item["model"] == entry["model"]:
                item["file_sha256"] = hashlib.sha256(data).hexdigest()
        files["manifest.json"] = json.dumps(new_manifest).encode()

    rewrite(path, tamper)
    with pytest.raises(CommandError, match="rbac.Permission code='nothing:here'"):
        call_command("import_tenant", str(path), "--as", "acme-broken")
    assert not Tenant.objects.filter(code="acme-broken").exists()
    assert not Department.objects.all_tenants().filter(tenant__code="acme-broken").exists()


def test_damaged_or_foreign_archives_are_refused_clearly(demo, tmp_path):
    """A truncated file, a changed table file, another schema version: clear errors."""
    path = tmp_path / "acme.tar.gz"
    export("acme", path)
    data = path.read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CommandError, match="cannot be read as a tenant archive"):
        call_command("import_tenant", str(tmp_path / "cut.tar.gz"), "--as", "x1")

    def change_file(files):
        name = "tables/accounts.user.jsonl"
        files[name] = files[name].replace(b"alice", b"mallory")

    rewrite(path, change_file)
    with pytest.raises(CommandError, match="damaged"):
        call_command("import_tenant", str(path), "--as", "x2")

    export("acme", path)

    def other_schema(files):
        manifest = json.loads(files["manifest.json"])
        manifest["platform"]["migrations"]["accounts"] = ["9999_future"]
        files["manifest.json"] = json.dumps(manifest).encode()

    rewrite(path, other_schema)
    with pytest.raises(CommandError, match="another schema version"):
        call_command("import_tenant", str(path), "--as", "x3")
    with pytest.raises(CommandError, match="not a tenant archive|cannot be read"):
        call_command("import_tenant", str(tmp_path / "missing.tar.gz"), "--as", "x4")
    assert not Tenant.objects.filter(code__in=["x1", "x2", "x3", "x4"]).exists()


def test_export_refuses_an_unknown_code(db, tmp_path):
    """An unknown tenant code is a clear error and writes no file."""
    with pytest.raises(CommandError, match="There is no tenant with code 'nobody'"):
        call_command("export_tenant", "nobody", "--out", str(tmp_path / "x.tar.gz"))
    assert not (tmp_path / "x.tar.gz").exists()
    with pytest.raises(CommandError, match="is not a date"):
        call_command("export_tenant", "platform", "--out", str(tmp_path / "x.tar.gz"),
                     "--logs-from", "yesterday")


def test_logs_are_optional_and_limited_by_date(demo, tmp_path):
    """--logs-from leaves older logs out; --no-logs leaves every log out; both round-trip."""
    since = (timezone.now() - dt.timedelta(days=7)).date().isoformat()
    manifest = export("acme", tmp_path / "recent.tar.gz", "--logs-from", since)
    counts = {e["model"]: e["rows"] for e in manifest["tables"]}
    assert counts["logs.LoginLog"] == 1 and manifest["logs"]["from"].startswith(since)
    call_command("import_tenant", str(tmp_path / "recent.tar.gz"), "--as", "acme-recent",
                 stdout=io.StringIO())
    with tenant_context(_tenant("acme-recent")):
        assert LoginLog.objects.count() == 1

    manifest = export("acme", tmp_path / "nologs.tar.gz", "--no-logs")
    assert not any(e["rows"] for e in manifest["tables"] if e["log"])
    assert manifest["logs"]["included"] is False


def test_sealed_secrets_under_other_keys_are_refused_unless_kept(demo, tmp_path):
    """On a platform whose keys cannot open the archive's sealed values the import refuses,
    naming the columns; with --keep-unreadable-secrets they are imported sealed and stay
    unreadable. The archive never holds a secret in the clear."""
    path = tmp_path / "acme.tar.gz"
    export("acme", path)
    assert b"s3cret-password" not in path.read_bytes()
    with tarfile.open(path) as archive:
        names = archive.getnames()
        configs = archive.extractfile("tables/testing.databaseconfig.jsonl").read()
    assert "manifest.json" in names and b'"password": "enc:v1:' in configs
    other_key = Fernet.generate_key().decode()
    with override_settings(FIELD_ENCRYPTION_KEYS=[other_key]):
        with pytest.raises(CommandError, match="testing.DatabaseConfig.password"):
            call_command("import_tenant", str(path), "--as", "acme-elsewhere")
        assert not Tenant.objects.filter(code="acme-elsewhere").exists()
        out = io.StringIO()
        call_command("import_tenant", str(path), "--as", "acme-elsewhere",
                     "--keep-unreadable-secrets", stdout=out)
        assert "imported sealed" in out.getvalue()
        with tenant_context(_tenant("acme-elsewhere")), pytest.raises(SecretUnreadable):
            DatabaseConfig.objects.get(name="Orders DB")
    with tenant_context(_tenant("acme-elsewhere")):
        assert DatabaseConfig.objects.get(name="Orders DB").password == "s3cret-password"
