"""README.md and docs/*.md: a README short enough to read, links a reader can follow.

A reader has the repository and nothing else: not the project's issue tracker (so no "issue 12"),
not the folders beside the checkout the project happens to be built in (so no link that leaves
the repository), and every relative link, anchor included, must lead somewhere.
"""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
README_MAX_LINES = 220

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
CODE_SPAN = re.compile(r"(`+).*?\1", re.S)
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.M)
BARE_URL = re.compile(r"\b(?:https?|ftp)://\S+|\bwww\.[\w-]+\.\w+")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
# The project's own tracker: "issue 12", "issues 5 and 14", "(#12)"; an upstream project's
# owner/name#123 names a tracker a reader can find, and is not matched.
ISSUE = re.compile(r"\bissues?\s+#?\d+|(?<![\w/.-])#\d+\b", re.I)


def prose(path: Path) -> str:
    """The page without its code blocks and code spans: what renders as text and links."""
    return CODE_SPAN.sub("", FENCE.sub("", path.read_text(encoding="utf-8")))


def links(path: Path) -> list[str]:
    text = prose(path)
    return LINK.findall(text) + REFERENCE_LINK.findall(text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    result = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.M):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def page_id(path: Path) -> str:
    return str(path.relative_to(REPO))


def test_readme_is_short():
    lines = (REPO / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; the manual belongs in docs/"


@pytest.mark.parametrize("path", PAGES, ids=page_id)
def test_no_issue_numbers(path):
    found = ISSUE.findall(path.read_text(encoding="utf-8"))
    assert not found, f"{page_id(path)} names the project's issues, which a reader cannot open: {found}"


@pytest.mark.parametrize("path", PAGES, ids=page_id)
def test_links_stay_in_the_repository_and_resolve(path):
    problems = [f"a web address: {url}" for url in BARE_URL.findall(prose(path))]
    for target in links(path):
        if SCHEME.match(target) or target.startswith("//"):
            problems.append(f"leaves the repository: {target}")
            continue
        file_part, _, anchor = target.partition("#")
        if file_part.startswith("/"):
            problems.append(f"an absolute path: {target}")
            continue
        destination = (path.parent / file_part).resolve() if file_part else path
        if not destination.is_relative_to(REPO):
            problems.append(f"leaves the repository: {target}")
        elif not destination.exists():
            problems.append(f"no such file: {target}")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            problems.append(f"no such heading: {target}")
    assert not problems, f"{page_id(path)}: " + "; ".join(problems)


def test_the_checks_catch_what_they_are_for(tmp_path):
    """The patterns above on text that breaks each rule (so a passing test means something)."""
    assert ISSUE.findall("see issue 12, issues 5 and (#14)") == ["issue 12", "issues 5", "#14"]
    assert not ISSUE.findall("treeverse/dvc#9818, a 1x1 conv, E8, 24 h")
    assert slug("Data (the package `cnnlab.data`)") == "data-the-package-cnnlabdata"
    assert slug("Snakemake's own overhead") == "snakemakes-own-overhead"
    page = tmp_path / "page.md"
    page.write_text("[a](../shared/STUDY.md) [b](https://example.org) `[c](nowhere.md)`\n"
                    "```\n[d](nowhere.md)\n```\n")
    assert links(page) == ["../shared/STUDY.md", "https://example.org"]


PUBLISHED = REPO / "docs" / "results"
# A row of README's table of the published run: | ... | `experiment` | ... | 99.07 % (98.93-99.21) |
QUOTED_ACCURACY = re.compile(r"^\|.*`(\w+)`.*\|\s*([\d.]+) % \(([\d.]+)-([\d.]+)\)\s*\|\s*$", re.M)


def test_readme_quotes_the_published_run_as_it_is():
    """Each test accuracy README quotes (mean and the seeds' range, in %) is the published summary's,
    and each answer README gives opens as the published report's does."""
    import pandas as pd

    summary = pd.read_csv(PUBLISHED / "summary.csv").set_index("experiment")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    quoted = QUOTED_ACCURACY.findall(readme)
    assert len(quoted) >= 4, "README quotes no accuracy of the published run"
    for experiment, mean, low, high in quoted:
        row = summary.loc[experiment]
        published = [f"{row[column] * 100:.2f}" for column in ("test_acc", "test_acc_min", "test_acc_max")]
        assert [mean, low, high] == published, experiment
    report = (PUBLISHED / "report.md").read_text(encoding="utf-8")
    conclusions = re.findall(r"^> \*\*(.+?)\*\*", readme, re.M)  # README's quotes of the answers
    assert len(conclusions) == 4 and all(f"**{c}**" in report for c in conclusions)
