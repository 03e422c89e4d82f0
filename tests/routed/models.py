"""A model on the ``report_data`` table, which the default route map sends to ``postgres_db``."""

from django.db import models


class ReportRow(models.Model):
    """A report row; it stores the tenant id as a plain column (no cross-database key)."""

    tenant_id = models.UUIDField()
    name = models.CharField(max_length=50)

    class Meta:
        db_table = "report_data"
