"""Test settings: the platform's own settings plus a routed test table.

The database comes from DATABASE_URL exactly as in production (scripts/test_backends.py
sets it per backend). No Oracle server can run here, so when ``oracle_db`` is not
configured its routes fall back to ``default``; the routing decisions themselves are
tested with explicit settings.
"""

import atexit
import os
import shutil
import tempfile

from config.settings import *  # noqa: F403
from config.settings import DATABASES, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.routed"]

if "oracle_db" not in DATABASES:
    DATABASE_ROUTE_FALLBACK = True

# Hashing speed is not under test (bench/signin.py measures it); production hashes with
# Argon2id (config/settings.py PASSWORD_HASHERS).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Files the tests make (stored allure-results) go to a folder of this test session, which
# the Celery workers and beat the tests start inherit through the environment.
if "MEDIA_ROOT" not in os.environ:
    os.environ["MEDIA_ROOT"] = tempfile.mkdtemp(prefix="atrium-test-media-")
    atexit.register(shutil.rmtree, os.environ["MEDIA_ROOT"], ignore_errors=True)
MEDIA_ROOT = os.environ["MEDIA_ROOT"]
