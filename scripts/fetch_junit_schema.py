"""Fetch the common JUnit XML schema that the tests validate the platform's JUnit reports
against (testing/tests/test_reports.py), into ``var/test-tools/junit-10.xsd``.

The schema is the one Jenkins' xUnit plugin publishes (``junit-10.xsd``, MIT), which
pytest's own tests check its ``--junitxml`` output against and ship in pytest's source
distribution. It is read from that distribution, at the pytest version requirements.txt
pins, through pip and the package index this machine uses, so nothing is copied into the
project and the schema is the published one byte for byte.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "var" / "test-tools" / "junit-10.xsd"
MEMBER = "testing/example_scripts/junit-10.xsd"


def pinned_pytest() -> str:
    text = (ROOT / "requirements.txt").read_text()
    match = re.search(r"^pytest==(\S+)", text, re.MULTILINE)
    if match is None:
        sys.exit("fetch_junit_schema: requirements.txt pins no pytest version")
    return match.group(1)


def main() -> None:
    version = pinned_pytest()
    with tempfile.TemporaryDirectory() as directory:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--no-binary", ":all:", "--dest", directory, f"pytest=={version}"],
            check=True)
        (archive,) = Path(directory).glob("pytest-*.tar.gz")
        with tarfile.open(archive) as sdist:
            member = sdist.getmember(f"pytest-{version}/{MEMBER}")
            schema = sdist.extractfile(member).read()
    if b"<xs:schema" not in schema:
        sys.exit(f"fetch_junit_schema: {MEMBER} of pytest {version} is not an XML schema")
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_bytes(schema)
    print(f"fetch_junit_schema: {TARGET.relative_to(ROOT)} from pytest {version}")


if __name__ == "__main__":
    main()
