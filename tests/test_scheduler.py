"""Snakemake's own overhead (issue 14): `make study`'s profile keeps the scheduler from waking up
again and again while jobs run (docs/performance.md, "Snakemake's own overhead").

With its default job rate limit (100/1s), Snakemake looks at every ready job once a second and once
more a second for every job that has ended so far; on the study's 244 jobs that was a quarter of a
core. The real `snakemake` runs a small workflow of short jobs with the project's profile, and
its scheduler's passes are counted in its --verbose log ("Ready jobs: N", one line per pass).
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "workflow" / "profiles" / "default"
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
JOBS = 6
# Six jobs of 1.5 s on two cores: the run takes about 5 s. One pass at the start and one after each
# job that ends are what the work needs.
SNAKEFILE = f"""
rule all:
    input: expand("done/{{i}}.txt", i=range({JOBS}))

rule job:
    output: "done/{{i}}.txt"
    shell: "sleep 1.5 && touch {{output}}"
"""


def scheduler_passes(folder: Path, *options: str) -> int:
    """Run the small workflow in `folder` with `options`; the passes of Snakemake's scheduler."""
    (folder / "Snakefile").write_text(SNAKEFILE)
    done = subprocess.run([str(SNAKEMAKE), "--cores", "2", "--verbose", *options], cwd=folder,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(list((folder / "done").iterdir())) == JOBS
    return len(re.findall(r"^Ready jobs: \d+", done.stderr, flags=re.MULTILINE))


def test_make_study_says_its_plan_then_runs_snakemake_which_reads_the_profile_by_itself():
    recipe = subprocess.run(["make", "-n", "study"], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout
    # what it will run and how long that takes here, then the run
    assert recipe.index("cnnlab plan --totals") < recipe.index("snakemake all")
    # Snakemake's default workflow profile: profiles/default beside the Snakefile
    assert (REPO / "workflow" / "Snakefile").is_file()
    assert PROFILE == REPO / "workflow" / "profiles" / "default"


@pytest.mark.slow  # two real runs of Snakemake, about half a minute
def test_the_profile_wakes_the_scheduler_only_when_a_job_ends(tmp_path):
    # without the profile, the rate limit's wake-ups come on top (the check that this test can fail)
    (tmp_path / "plain").mkdir()
    assert scheduler_passes(tmp_path / "plain") > JOBS + 2
    (tmp_path / "profile").mkdir()
    # a wake-up of the profile's 10 s timespan may fall inside the run on a slow machine: + 1
    assert scheduler_passes(tmp_path / "profile", "--workflow-profile", str(PROFILE)) <= 1 + JOBS + 1
