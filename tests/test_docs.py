"""The README stays a user's page: short, its links resolve, and its two commands are the ones CI and make run."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAX_README_LINES = 200

# The project's contract (issue 25): these two lines of the README do not change by a byte.
TWO_COMMANDS = (
    "make app     # set up (first run only) and open the window",
    "make test    # set up (first run only), lint, and run the test suite",
)

FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def markdown_pages() -> list[Path]:
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


def broken_links(page: Path) -> list[str]:
    """Relative link targets in ``page`` (outside code blocks, anchors ignored) that name no existing file."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("#"):
            continue  # a web address, mailto:, or an anchor on the same page
        path = target.split("#", 1)[0]
        if not (page.parent / path).exists():
            broken.append(path)
    return broken


def fenced_command_lines(text: str) -> list[str]:
    """Every line inside a fenced code block, as written."""
    return [line for block in FENCE.findall(text) for line in block.splitlines()[1:-1]]


def ci_commands() -> list[str]:
    """The commands `.ci/run` executes (the shebang, shell options, comments and its `cd` left out)."""
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    return [
        line.strip() for line in lines if line.strip() and not line.lstrip().startswith(("#", "set ", "cd "))
    ]


def test_broken_links_are_reported_with_their_path(tmp_path):
    (tmp_path / "there.md").write_text("x", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](there.md#a) [web](https://example.org) [anchor](#top) [gone](docs/missing.md#b)\n"
        "```bash\n[not a link](in/code.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page) == ["docs/missing.md"]


def test_every_relative_link_in_the_readme_and_docs_names_an_existing_file():
    broken = {
        str(page.relative_to(ROOT)): links for page in markdown_pages() if (links := broken_links(page))
    }
    assert not broken, f"links to missing files: {broken}"


def test_the_readme_links_every_docs_page():
    linked = set(LINK.findall(FENCE.sub("", README.read_text(encoding="utf-8"))))
    unlinked = [f"docs/{page.name}" for page in markdown_pages()[1:] if f"docs/{page.name}" not in linked]
    assert not unlinked, f"docs pages the README does not link: {unlinked}"


def test_the_readme_is_short():
    count = len(README.read_text(encoding="utf-8").splitlines())
    assert count < MAX_README_LINES, f"README.md has {count} lines; move detail into docs/"


def test_the_readme_holds_the_two_commands_exactly():
    lines = fenced_command_lines(README.read_text(encoding="utf-8"))
    for command in TWO_COMMANDS:
        assert command in lines, f"README.md lost the command line {command!r}"


def test_the_readme_test_command_is_what_ci_runs():
    commands = ci_commands()
    assert commands == ["make test"], f".ci/run runs {commands}"
    readme_commands = [
        line.split("#", 1)[0].strip() for line in fenced_command_lines(README.read_text(encoding="utf-8"))
    ]
    assert commands[0] in readme_commands, f"the README does not give {commands[0]!r}, which .ci/run executes"


def test_the_two_commands_are_the_makefile_targets_it_names():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    named = re.findall(r"`(make [\w-]+)`", makefile.splitlines()[0])
    assert named == [command.split("#", 1)[0].strip() for command in TWO_COMMANDS]
    for command in named:
        target = command.split()[1]
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), f"the Makefile has no target {target!r}"
