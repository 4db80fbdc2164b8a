"""The API examples of docs/api.md, run as written against a live server on the demo data.

Every ``bash`` block of the Examples section runs, in order, in one bash
process, against the real server on a fresh SQLite database seeded with the
demo (as the quick start has it). ``curl`` is wrapped so that each call's HTTP
status is recorded; each call in the doc ends with the status it answers
(``# → 201``), and the two lists must match: no 5xx, no status the doc does
not say. The dates are computed in the shell and the ids read from answers,
so the examples work on any day.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live_server import ROOT, demo_database_url, serve_demo

DOC = ROOT / "docs" / "api.md"
QUICK_START_URL = "http://127.0.0.1:8000"
STATUS = re.compile(r"#\s*→\s*(\d{3})\b")
CURL_CALL = re.compile(r"(?:^|\$\(|[|;&]\s*)\s*curl\s")

# Each call's status goes to $CURL_LOG, its answer to stdout as curl would print it.
PRELUDE = r"""
set -euo pipefail
curl() {
  local answer status
  answer=$(mktemp)
  status=$(command curl -sS -o "$answer" -w '%{http_code}' "$@")
  echo "$status" >> "$CURL_LOG"
  cat "$answer"
  rm -f "$answer"
}
"""


def example_blocks(markdown: str) -> list[str]:
    """The ``bash`` blocks of the Examples section, in order."""
    section = markdown.split("\n## Examples\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, re.S)


def expected_statuses(script: str) -> list[int]:
    """The status written after each curl call, in the order the calls run."""
    statuses: list[int] = []
    open_call: str | None = None
    for line in script.splitlines():
        code = line.split("#", 1)[0] if not line.lstrip().startswith("#") else ""
        if CURL_CALL.search(code):
            assert open_call is None, f"no expected status after: {open_call}"
            open_call = line
        mark = STATUS.search(line)
        if mark and not line.lstrip().startswith("#"):
            assert open_call is not None, f"a status with no call: {line}"
            statuses.append(int(mark.group(1)))
            open_call = None
    assert open_call is None, f"no expected status after: {open_call}"
    return statuses


def test_every_example_call_is_marked_with_its_status() -> None:
    blocks = example_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 6
    statuses = expected_statuses("\n".join(blocks))
    assert len(statuses) >= 40
    assert all(100 <= status < 500 for status in statuses)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_api_examples_answer_what_the_doc_says(tmp_path: Path) -> None:
    script = "\n".join(example_blocks(DOC.read_text(encoding="utf-8")))
    expected = expected_statuses(script)
    with serve_demo(tmp_path) as base_url:
        runnable = script.replace(QUICK_START_URL, base_url).replace(
            ".venv/bin/truchement", str(Path(sys.executable).parent / "truchement")
        )
        log = tmp_path / "statuses.txt"
        log.touch()
        run = subprocess.run(
            ["bash", "-c", PRELUDE + runnable],
            cwd=tmp_path,
            env={
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "HOME": str(tmp_path),
                "CURL_LOG": str(log),
                "TRUCHEMENT_DATABASE_URL": demo_database_url(tmp_path),
            },
            capture_output=True,
            text=True,
            timeout=600,
        )
    answered = [int(line) for line in log.read_text().split()]
    where = f"\n--- stderr:\n{run.stderr[-3000:]}\n--- stdout:\n{run.stdout[-3000:]}"
    assert run.returncode == 0, f"the examples stopped after {len(answered)} call(s){where}"
    assert answered == expected, where
