"""What every benchmark ends with: its table printed, and its raw results and table kept in files."""

import argparse
import json
from pathlib import Path


def add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", type=Path, help="write the raw results here (e.g. benchmarks/results/)")
    p.add_argument("--markdown", type=Path, help="write the table here")


def publish(args: argparse.Namespace, result: dict, table: str) -> int:
    """Print the table; write `result` to --json and the table to --markdown when given. Exit code 0."""
    print(table)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.markdown:
        args.markdown.write_text(table.rstrip("\n") + "\n")
    return 0
