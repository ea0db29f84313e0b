"""Publish a finished study's report: `python -m cnnlab.reporting.publish results docs/results` copies
report.md and report.zh.md, the files they link (the figures) and the study's tables into a folder
that git keeps, so the answers can be read without running the study (docs/results/ holds the
published run). Small files only: no checkpoint, and not report.html, which carries every figure.
"""

import re
import shutil
import sys
from pathlib import Path

REPORTS = ["report.md", "report.zh.md"]
TABLES = ["summary.csv", "reproduction.csv", "comparisons.csv"]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def linked_files(report: Path) -> list[str]:
    """The files a Markdown report links, relative to its folder (web addresses and anchors are not)."""
    links = LINK.findall(report.read_text(encoding="utf-8"))
    return sorted({link for link in links if "://" not in link and not link.startswith("#")})


def publish(results: Path, destination: Path) -> list[str]:
    """Copy the reports, what they link and the tables from `results` to `destination`, replacing
    what an earlier publication left there; returns the files copied, relative to both."""
    files = sorted({*REPORTS, *TABLES, *(f for r in REPORTS for f in linked_files(results / r))})
    if destination.exists():
        shutil.rmtree(destination)
    for name in files:
        (destination / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(results / name, destination / name)
    return files


def main(results: Path, destination: Path) -> int:
    missing = [name for name in REPORTS + TABLES if not (results / name).is_file()]
    if missing:
        print(f"cnnlab: error: {results}: no {', '.join(missing)}; run `cnnlab report` first",
              file=sys.stderr)
        return 2
    copied = publish(results, destination)
    size = sum((destination / name).stat().st_size for name in copied)
    print(f"{len(copied)} files, {size / 1e6:.1f} MB, in {destination}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
