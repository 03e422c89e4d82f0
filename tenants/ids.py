"""Primary keys of business entities: time-ordered UUIDv7 (DESIGN.md, "Keys").

Consecutive inserts get increasing keys, which keeps InnoDB's clustered index appending at
its end instead of splitting pages at random, while ids stay unguessable across tenants.
"""

import uuid

import uuid6


def uuid7() -> uuid.UUID:
    """Return a new UUIDv7 as a standard ``uuid.UUID``."""
    return uuid.UUID(int=uuid6.uuid7().int)
