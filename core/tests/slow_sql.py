"""A statement that keeps each backend busy for seconds, for the tests of deadlines and timeouts.

MariaDB and PostgreSQL sleep for ``SLEEP_SECONDS``; SQLite, which cannot sleep in SQL,
counts to a billion (far longer). Whatever runs it is expected to interrupt it.
"""

SLEEP_SECONDS = 5

SLOW_SQL = {
    "mysql": f"SELECT SLEEP({SLEEP_SECONDS})",
    "postgresql": f"SELECT pg_sleep({SLEEP_SECONDS})",
    "sqlite": (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) "
        "SELECT count(*) FROM c"
    ),
}
