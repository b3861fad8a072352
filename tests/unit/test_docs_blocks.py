"""Every fenced block in docs/*.md and README.md is accounted for.

A block is either an example, marked `<!-- example: docs/examples/NAME -->` on the line
above and equal to that file (which tests/e2e/test_docs_examples.py runs or validates),
or illustrative output, marked `<!-- output -->`, or listed in ALLOWED below with the reason
it is neither. So a doc example cannot drift from the file that a test runs.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})")
EXAMPLE = re.compile(r"^\s*<!--\s*example:\s*(\S+)\s*-->\s*$")
OUTPUT = re.compile(r"^\s*<!--\s*output\s*-->\s*$")

# (page, start of the block's first line, why it is neither a runnable example nor marked
# output): overviews and synopses with placeholder names, and blocks that other tests run.
ALLOWED: list[tuple[str, str, str]] = [
    (
        "docs/llm-targets.md",
        "chat:",
        "options excerpt for the user's application; validated by tests/unit/test_chat_config.py",
    ),
    (
        "docs/art.md",
        "pip install 'redwatch[art]'",
        "installs from PyPI; extra checked below",
    ),
    ("README.md", "make demo", "Makefile targets; tests/e2e/test_cli_demo.py runs the demo"),
    ("README.md", ".venv/bin/redwatch scan redwatch-demo/", "needs `make demo`'s output files"),
    (
        "README.md",
        "redwatch scan model.joblib --data holdout.csv --label",
        "placeholders: the user's model and endpoint",
    ),
    ("README.md", "features:", "abridged from docs/examples/redwatch-constraints.yaml"),
    ("README.md", "redwatch harden model.pt", "placeholders; runnable: examples/harden-fraud.sh"),
    ("README.md", "redwatch integrity scan models/", "command overview, placeholder paths"),
    ("README.md", "redwatch guard --upstream", "command overview; runnable: guard-proxy.sh"),
    (
        "README.md",
        "redwatch llm reference-app --port 8765 &",
        "command overview; runnable: docs/examples/llm_scan.sh and llm_guard_proxy.sh",
    ),
    (
        "README.md",
        "redwatch keys create --name me --role admin",
        "command overview; runnable: docs/examples/service_keys.sh",
    ),
    ("docs/ip.md", "redwatch ip keygen --out owner.key", "one command; ip_watermark.sh runs it"),
    (
        "README.md",
        "redwatch data scan train.csv",
        "command overview; runnable: docs/examples/data_scan.sh",
    ),
    (
        "README.md",
        "redwatch scan model.joblib --data claims.csv --label fraud --sensitive",
        "command overview; runnable: docs/examples/fairness_scan.sh and audit.sh",
    ),
    (
        "README.md",
        "redwatch scan model.joblib --data holdout.csv --probe extraction",
        "command overview; runnable: docs/examples/ip_*.sh",
    ),
    ("docs/architecture.md", "redwatch scan MODEL", "a diagram of the modules, not code"),
    ("docs/scan.md", "redwatch scan MODEL_OR_URL", "usage synopsis with placeholders"),
    ("docs/scan.md", "redwatch scan https://", "needs a live endpoint (test_cli_scan_http.py)"),
    ("docs/integrity.md", "redwatch integrity scan models/", "command overview, placeholder paths"),
    ("docs/integrity.md", "from redwatch.integrity import scan_path", "placeholder folder"),
    ("docs/integrity.md", "redwatch integrity keygen --out DIR", "usage synopsis, placeholders"),
    ("docs/integrity.md", "mkdir -p model/tokenizer", "run by test_cli_integrity_sign.py"),
    ("docs/integrity.md", "$ printf 'X'", "run by test_cli_integrity_sign.py"),
    ("docs/integrity.md", "from pathlib import Path", "run by test_cli_integrity_sign.py"),
    ("docs/integrity.md", "redwatch integrity fingerprint MODEL", "usage synopsis, placeholders"),
    (
        "docs/integrity.md",
        "from redwatch.integrity.fingerprint",
        "API sketch over a caller's target",
    ),
    ("docs/integrity.md", "probes:", "options excerpt with placeholder paths"),
]


@dataclass(frozen=True)
class Block:
    """One fenced block of a page: where it starts, the marker line above it, its text."""

    page: str
    line: int
    above: str
    text: str

    @property
    def first_line(self) -> str:
        """The first non-blank line of the block (ALLOWED entries match its start)."""
        return next((ln.strip() for ln in self.text.splitlines() if ln.strip()), "")

    @property
    def marked(self) -> bool:
        """True when an example or output marker sits on the line above."""
        return bool(OUTPUT.match(self.above) or EXAMPLE.match(self.above))

    def allowed_by(self, allowed: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
        """The allow-list entries that match this block."""
        return [e for e in allowed if e[0] == self.page and self.first_line.startswith(e[1])]


def fenced_blocks(page: str, text: str) -> list[Block]:
    """Every fenced block of a markdown text, de-indented by its fence's indentation."""
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        indent, fence = len(m.group(1)), m.group(2)
        end = i + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        body = "\n".join(ln[indent:] for ln in lines[i + 1 : end])
        out.append(Block(page, i + 1, lines[i - 1] if i else "", body))
        i = end + 1
    return out


def block_problems(block: Block, root: Path, allowed: list[tuple[str, str, str]]) -> list[str]:
    """Why a block breaks the rule (empty when it follows it)."""
    where = f"{block.page}:{block.line}"
    if OUTPUT.match(block.above):
        return []
    m = EXAMPLE.match(block.above)
    if m is None:
        if block.allowed_by(allowed):
            return []
        return [f"{where}: no <!-- example: PATH --> or <!-- output --> marker above the block"]
    path = root / m.group(1)
    if not m.group(1).startswith("docs/examples/") or not path.is_file():
        return [f"{where}: example {m.group(1)} is not a file under docs/examples/"]
    if path.read_text(encoding="utf-8").strip() != block.text.strip():
        return [f"{where}: block differs from {m.group(1)}"]
    return []


def _page_name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _all_blocks() -> list[Block]:
    return [b for p in PAGES for b in fenced_blocks(_page_name(p), p.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("page", PAGES, ids=_page_name)
def test_every_block_is_a_tested_example_output_or_allowed(page: Path) -> None:
    blocks = fenced_blocks(_page_name(page), page.read_text(encoding="utf-8"))
    problems = [p for b in blocks for p in block_problems(b, ROOT, ALLOWED)]
    assert not problems, "\n".join(problems)


def test_each_allow_list_entry_matches_exactly_one_unmarked_block() -> None:
    unmarked = [b for b in _all_blocks() if not b.marked]
    for entry in ALLOWED:
        hits = [b for b in unmarked if entry in b.allowed_by([entry])]
        assert len(hits) == 1, f"{entry[:2]} matches {len(hits)} unmarked blocks"
        assert entry[2].strip()


def test_most_example_files_are_shown_in_a_page() -> None:
    shown = {m.group(1) for b in _all_blocks() if (m := EXAMPLE.match(b.above))}
    assert len(shown) >= 10
    assert all((ROOT / path).is_file() for path in shown)


DRIFT_PAGE = """Intro.

<!-- example: docs/examples/redwatch.yaml -->
```yaml
label: something-else
```

<!-- output -->
```
anything at all
```

```sh
redwatch scan unmarked.joblib
```

<!-- example: docs/examples/no-such-file.yaml -->
```yaml
x: 1
```

<!-- example: docs/examples/redwatch.yaml -->
```yaml
{body}
```
"""


def test_checker_reports_drift_missing_markers_and_missing_files() -> None:
    body = (ROOT / "docs" / "examples" / "redwatch.yaml").read_text(encoding="utf-8")
    blocks = fenced_blocks("page.md", DRIFT_PAGE.replace("{body}", body))
    found = [block_problems(b, ROOT, []) for b in blocks]
    assert len(found) == 5
    assert "differs from docs/examples/redwatch.yaml" in found[0][0]
    assert found[1] == []
    assert "no <!-- example: PATH --> or <!-- output --> marker" in found[2][0]
    assert "no-such-file.yaml is not a file" in found[3][0]
    assert found[4] == []
    allowed = [("page.md", "redwatch scan unmarked", "a test entry")]
    assert block_problems(blocks[2], ROOT, allowed) == []


def test_indented_fences_are_read_and_compared_without_their_indent() -> None:
    text = "1. step\n\n   <!-- output -->\n   ```sh\n   echo hi\n   ```\n"
    (block,) = fenced_blocks("p.md", text)
    assert block.text == "echo hi"
    assert OUTPUT.match(block.above)


def test_art_install_line_matches_the_declared_extra() -> None:
    """docs/art.md's install example cannot run offline; the extra it names must exist and
    hold what the page says it installs."""
    page = (ROOT / "docs" / "art.md").read_text(encoding="utf-8")
    assert "pip install 'redwatch[art]'" in page
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extra = project["project"]["optional-dependencies"]["art"]
    assert "adversarial-robustness-toolbox==1.20.1" in extra
    assert "packaging" in extra
