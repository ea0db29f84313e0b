"""train.json's `machine`: the code's commit, the CPU, its cores and the load while training, so that
a run's times can be read (and a run on a loaded machine is not compared as if it were quiet)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cnnlab.training import runtime
from synthetic import mnist_project

REPO = Path(__file__).resolve().parents[1]
XEON_CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8 x2apic

processor\t: 1
model name\t: another name that is not read
flags\t\t: fpu
"""
ARM_CPUINFO = "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes sve bf16 i8mm\n"


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=True).stdout


def test_cpu_model_and_speed_flags_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(XEON_CPUINFO)
    record = runtime.machine(str(cpuinfo))
    assert record["cpu"] == "Intel(R) Xeon(R) Platinum 8480+"
    assert record["cpu_flags"] == ["avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile",
                                   "amx_bf16", "amx_int8"]
    assert record["cores"] == os.cpu_count()
    assert runtime.cpu_has_bf16(str(cpuinfo))


def test_arm_flags_and_a_machine_without_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(ARM_CPUINFO)
    assert runtime.machine(str(cpuinfo))["cpu_flags"] == ["asimd", "sve", "bf16"]
    missing = runtime.machine(str(tmp_path / "missing"))  # macOS, Windows: no /proc/cpuinfo
    assert missing["cpu_flags"] == [] and missing["cpu"] == (runtime.platform.processor() or None)


def test_load_average_is_three_numbers():
    load = runtime.load_average()
    assert len(load) == 3 and all(isinstance(x, float) and x >= 0 for x in load)


def test_commit_of_a_git_checkout_and_its_changes(tmp_path):
    git(tmp_path, "init", "-q")
    code = tmp_path / "src"
    code.mkdir()
    (code / "model.py").write_text("x = 1\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "code")
    head = git(tmp_path, "rev-parse", "HEAD").strip()
    (tmp_path / "results.txt").write_text("outside the code: not a change of the code\n")
    assert runtime.code_commit(code) == {"commit": head, "dirty": False}
    (code / "model.py").write_text("x = 2\n")
    assert runtime.code_commit(code) == {"commit": head, "dirty": True}
    (code / "model.py").write_text("x = 1\n")
    (code / "new_model.py").write_text("y = 1\n")  # untracked code changes what runs too
    assert runtime.code_commit(code) == {"commit": head, "dirty": True}


def test_no_repository_or_no_git_records_none_and_never_fails(tmp_path, monkeypatch):
    assert runtime.code_commit(tmp_path) == {"commit": None, "dirty": None}
    git(tmp_path, "init", "-q")  # a repository without any commit
    assert runtime.code_commit(tmp_path) == {"commit": None, "dirty": None}
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))
    assert runtime.code_commit(REPO) == {"commit": None, "dirty": None}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A params.yaml whose data root holds synthetic MNIST (as tests/test_train.py's)."""
    return mnist_project(tmp_path_factory.mktemp("project"), n_train=300, n_test=100)


def train_through_the_cli(project: Path, out: Path, env: dict) -> dict:
    result = subprocess.run([sys.executable, "-m", "cnnlab", "--params", str(project / "params.yaml"),
                             "train", "mlp_mnist", "--set", "scale=smoke", "--set", "seeds=[0]",
                             "--out", str(out),
                             "--threads", "1"],
                            cwd=project, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads((out / "runs/seed0/train.json").read_text())["machine"]


def test_cli_records_commit_cpu_cores_and_load(project, tmp_path):
    machine = train_through_the_cli(project, tmp_path / "run", dict(os.environ))
    code = Path(runtime.__file__).parent
    assert machine["commit"] == git(code, "rev-parse", "HEAD").strip()
    assert machine["dirty"] == bool(git(code, "status", "--porcelain", "--", ".").strip())
    assert machine["cpu"] == runtime.cpu_model() and machine["cpu_flags"] == runtime.machine()["cpu_flags"]
    assert machine["cores"] == os.cpu_count() and machine["gpu"] is None
    for moment in ("load_average_start", "load_average_end"):
        assert len(machine[moment]) == 3 and all(x >= 0 for x in machine[moment])


def test_cli_trains_without_git(project, tmp_path):
    """No git on the PATH: the run goes on and says the commit is unknown."""
    bin_dir = tmp_path / "bin"  # only Python itself on the PATH
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    assert shutil.which("git", path=str(bin_dir)) is None
    machine = train_through_the_cli(project, tmp_path / "run", dict(os.environ, PATH=str(bin_dir)))
    assert machine["commit"] is None and machine["dirty"] is None and machine["cores"] == os.cpu_count()


@pytest.fixture(scope="module")
def evaluated(project, tmp_path_factory):
    """results/mlp_mnist trained (smoke scale, one seed), evaluated and summarized through the CLI."""
    results = tmp_path_factory.mktemp("results")
    for command in ("train", "evaluate", "summarize"):
        cnnlab(project, command, "mlp_mnist", "--set", "scale=smoke", "--set", "seeds=[0]",
               "--out", str(results / "mlp_mnist"))
    return results


def cnnlab(project: Path, *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "cnnlab", "--params", str(project / "params.yaml"), *args],
                          cwd=REPO, capture_output=True, text=True)  # from the project: references.yaml
    assert done.returncode == 0, done.stderr


def report_of(project: Path, evaluated: Path, tmp_path: Path, edit=None) -> str:
    """report.html of a copy of the results, after `edit` of its train.json's `machine`."""
    results = tmp_path / "results"
    shutil.copytree(evaluated, results)
    if edit is not None:
        record_path = results / "mlp_mnist" / "runs/seed0/train.json"
        record = json.loads(record_path.read_text())
        edit(record)
        record_path.write_text(json.dumps(record))
    cnnlab(project, "report", "--results", str(results))
    return (results / "report.html").read_text()


def summary_section(page: str) -> str:
    return page.split('<h2 id="summary">')[1].split('<h2 id="reproduction">')[0]


def test_report_shows_the_machine_the_load_and_how_it_was_made(project, evaluated, tmp_path):
    machine = json.loads((evaluated / "mlp_mnist" / "runs/seed0/train.json").read_text())["machine"]
    quiet = [0.1, 0.1, 0.1]  # as on a quiet machine: no caveat
    page = report_of(project, evaluated, tmp_path,
                     lambda r: r["machine"].update(load_average_start=quiet, load_average_end=quiet))
    summary = summary_section(page)
    assert f"{machine['cpu']} ({os.cpu_count()} cores)" in summary
    assert f"load 0.1 → 0.1 on {os.cpu_count()} cores" in summary and "loaded machine" not in page
    made = page.split('<h3 id="how-made">')[1].split("</ul>")[0]
    assert machine["commit"] in made and machine["cpu"] in made
    assert ", ".join(machine["cpu_flags"]) in made


def test_report_warns_next_to_times_taken_on_a_loaded_machine(project, evaluated, tmp_path):
    cores = os.cpu_count()
    page = report_of(project, evaluated, tmp_path,
                     lambda r: r["machine"].update(load_average_start=[0.5, 0.5, 0.5],
                                                   load_average_end=[cores + 1.1, 1.0, 1.0]))
    caveat = (f"measured on a loaded machine: load {cores + 1.1:.1f} on {cores} cores; times are not "
              "comparable")
    assert caveat in summary_section(page)
    assert summary_section(page).count("loaded machine") == 2  # the time and the images / s


def test_a_train_json_from_before_the_machine_was_recorded_still_renders(project, evaluated, tmp_path):
    page = report_of(project, evaluated, tmp_path, lambda r: r.pop("machine"))
    assert "Times measured on (CPU, cores): not recorded" in page and "load not recorded" in page
    made = page.split('<h3 id="how-made">')[1].split("</ul>")[0]
    assert made.count("not recorded") == 3 and "loaded machine" not in page
