"""End to end: the real Snakemake and DVC on a copy of the project, with synthetic data.

The copy lives in a temporary folder with its own `git init` and `dvc init`. Its catalog keeps one
small experiment per dataset at scale=smoke (1 epoch on 512 images, seeds 0 and 1), and its datasets
come from a synthetic offline mirror written in the real on-disk formats. The `all` target is the real one.
The tools are the ones installed next to this Python; the jobs run the copy's own src/ (PYTHONPATH),
the code that its Snakemake rules and DVC stages track.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cnnlab import config
from cnnlab.data.catalog import DATASETS
from cnnlab.pipeline.workflow_support import dvc_stage
from cnnlab.results.provenance import entry_files
from synthetic import write_mirror

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PROJECT_FILES = ["dvc.yaml", "params.yaml", "references.yaml", "workflow", "src",
                 ".gitignore", ".dvcignore"]
# One small experiment per dataset: dvc.yaml fetches every dataset, `all` those the catalog uses.
KEPT = ["cnn_mnist", "lenet_sigmoid_fashionmnist", "convnet_cifar10"]
CHANGED = "cnn_mnist"  # the experiment whose learning rate the tests change
SEEDS = 2  # scales.smoke.seeds: [0, 1]
# the real target `all`; two one-thread jobs at a time use the two cores best here
# Snakemake's own rate limit here: the profile's 10 s timespan (for long studies) made a small run
# of 7 jobs 30.5 s instead of 17.9 s (measured on the Xeon).
SNAKEMAKE_ALL = ["snakemake", "all", "--cores", "2", "--set-threads", "train=1", "evaluate=1",
                 "--max-jobs-per-timespan", "100/1s"]

pytestmark = pytest.mark.slow


def make_project(folder: Path, experiments=None, datasets=tuple(DATASETS)) -> Path:
    """A copy of the project in `folder`, its catalog cut to `experiments`, at scale=smoke, with
    `datasets` as given (every dataset by default, as this machine's `auto` would not take CIFAR-10)."""
    project = folder / "project"
    project.mkdir(parents=True)
    for name in PROJECT_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, project / name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(source, project / name)
    params = config.read_params(project / "params.yaml")
    if experiments is not None:
        params["experiments"] = {name: params["experiments"][name] for name in experiments}
        # they compare experiments left out here; kept, empty, as DVC's report stage reads them
        params.update(questions={}, comparisons=[], figures={})
        references = config.read_yaml((project / "references.yaml").read_text(), "references.yaml")
        references["experiments"] = {name: refs for name, refs in references["experiments"].items()
                                     if name in experiments}
        (project / "references.yaml").write_text(yaml.safe_dump(references, sort_keys=False))
    params["scale"] = "smoke"
    params["datasets"] = datasets if datasets == "auto" else list(datasets)
    params["data"]["verify"] = False  # synthetic files have no canonical digests
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return project


def whole_catalog() -> str:
    """params.yaml as it is, but with every dataset in the study (as `auto` has it on a GPU)."""
    text = (REPO / "params.yaml").read_text()
    assert "\ndatasets: auto" in text
    return text.replace("\ndatasets: auto", "\ndatasets: [mnist, fashion_mnist, cifar10]")


def environment(folder: Path, project: Path) -> dict:
    env = dict(os.environ)
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(project / "src"),
        CNNLAB_DATA_MIRROR=str(folder / "mirror"),
        TORCH_HOME=str(folder / "torch"),  # no ImageNet weights unless a test puts some there
        DVC_NO_ANALYTICS="1",
        GIT_AUTHOR_NAME="test", GIT_AUTHOR_EMAIL="test@example.invalid",
        GIT_COMMITTER_NAME="test", GIT_COMMITTER_EMAIL="test@example.invalid",
    )
    return env


def run(command: list[str], project: Path, env: dict, ok: bool = True) -> str:
    """Run `command` in `project`; returns its stdout and stderr together."""
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=900)
    output = done.stdout + done.stderr
    if ok and done.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {done.returncode}:\n{output[-6000:]}")
    return output


def job_counts(snakemake_output: str) -> dict[str, int]:
    """Snakemake's "Job stats" table as {rule: count}; {} when there is nothing to do."""
    counts = {}
    table = snakemake_output.split("Job stats:", 1)
    if len(table) == 2:
        for line in table[1].splitlines():
            match = re.fullmatch(r"(\w+)\s+(\d+)", line.strip())
            if match:
                if match[1] == "total":
                    break
                counts[match[1]] = int(match[2])
    return counts


def tree_listing(project: Path) -> dict[str, tuple]:
    """Every file and folder of the project's results, data, Snakemake's and DVC's records: its
    size, modification time and, for a file, content; what a dry run must leave as it was. All but
    what Snakemake itself keeps up on every `snakemake -n`, by design: its inventory of file times
    (.snakemake/iocache/, for a later `--trust-io-cache`) and its empty folder of locks, made again
    where a real run removed it (and so the time of .snakemake/ itself)."""
    snakemakes = [project / ".snakemake" / name for name in ("iocache", "locks")]
    paths = [project / "dvc.lock", project / "results", project / "data"]
    for name in ("results", "data", ".snakemake"):
        paths += [*(project / name).rglob("*")]
    return {str(path.relative_to(project)): (path.is_dir(), path.lstat().st_size, path.lstat().st_mtime_ns,
                                             None if path.is_dir() else path.read_bytes())
            for path in paths if path.exists() and not any(path.is_relative_to(own) for own in snakemakes)}


def stages_run(dvc_output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", dvc_output))


def dvc_changed_by_an_edit_of(experiment: str) -> set[str]:
    """The stages `dvc status` lists after an edit of `experiment` in params.yaml: every runs@
    stage tracks all experiments (a variant takes its base's keys), the summary and plot stages
    their own experiment's."""
    return {f"runs@{name}" for name in KEPT} | {f"summary@{experiment}", f"plot@{experiment}"}


def set_learning_rate(project: Path, experiment: str, lr: float) -> None:
    params = config.read_params(project / "params.yaml")
    params["experiments"][experiment]["lr"] = lr
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def set_smoke_seeds(project: Path, seeds: list[int]) -> None:
    params = config.read_params(project / "params.yaml")
    params["scales"]["smoke"]["seeds"] = seeds
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def per_experiment(runs: int = SEEDS) -> dict[str, int]:
    """Snakemake's jobs for the experiments of KEPT with `runs` runs to make each."""
    each = len(KEPT)
    return {"train": runs * each, "evaluate": runs * each, "summarize": each, "plot": each}


def init_git_and_dvc(project: Path, env: dict) -> None:
    """Make `project` a git and DVC repository, with the project's plot templates."""
    run(["git", "init", "-q"], project, env)
    run(["dvc", "init", "-q"], project, env)
    shutil.copytree(REPO / ".dvc" / "plots", project / ".dvc" / "plots")


def committed_study(folder: Path) -> tuple[Path, dict, str]:
    """A git+DVC copy of the project in `folder` after `snakemake all`, committed (its metrics and
    dvc.lock); returns the copy, its environment and Snakemake's output."""
    write_mirror(folder / "mirror", n_train=800, n_test=300)
    project = make_project(folder, KEPT)
    env = environment(folder, project)
    init_git_and_dvc(project, env)
    output = run(SNAKEMAKE_ALL, project, env)
    run(["git", "add", "-A"], project, env)
    run(["git", "commit", "-q", "-m", "the study at smoke scale"], project, env)
    return project, env, output


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return committed_study(tmp_path_factory.mktemp("pipeline"))


def test_all_builds_every_result(study):
    project, env, output = study
    assert job_counts(output) == {"all": 1, "fetch": 3, **per_experiment(), "report": 1}
    for experiment in KEPT:
        summary = json.loads((project / "results" / experiment / "summary.json").read_text())
        assert summary["seeds"] == [0, 1] and summary["test_acc"]["n"] == 2
        test = summary["test_acc"]
        assert test["ci_low"] <= test["mean"] <= test["ci_high"] and 0 <= test["min"] <= test["max"] <= 1
        assert list((project / "results" / experiment / "plots").glob("*.png"))
        for seed in (0, 1):
            # recording the run in DVC left the files as they were: the checkpoint is older than its
            # evaluation (Snakemake compares times for files beyond its 1 MB checksum limit)
            model = project / "results" / experiment / f"runs/seed{seed}/model.pt"
            metrics = project / "results" / experiment / f"runs/seed{seed}/metrics.json"
            assert model.stat().st_mtime_ns < metrics.stat().st_mtime_ns
    assert (project / "results" / "report.html").is_file()
    tracked = run(["git", "ls-files", "results"], project, env).split()
    assert sorted(tracked) == sorted(f"results/{e}/{name}" for e in KEPT
                                     for name in ("curves.csv", "seeds.csv", "summary.json"))


def test_second_snakemake_run_executes_no_job(study):
    project, env, _ = study
    output = run(SNAKEMAKE_ALL, project, env)
    assert job_counts(output) == {}
    assert "Nothing to be done" in output


def test_study_bound_counts_every_runs_flops_against_snakemakes_wall_time(study, tmp_path):
    project, env, _ = study
    out = tmp_path / "bound.json"
    run([sys.executable, str(REPO / "benchmarks" / "study_bound.py"), str(project), "--json", str(out),
         "--matmul-seconds", "0.2"], project, env)
    result = json.loads(out.read_text())
    runs = [json.loads(p.read_text()) for p in project.glob("results/*/runs/seed*/train.json")]
    assert result["total"]["runs"] == len(runs) == 2 * len(KEPT)
    # training: 3 forward passes a training image, 1 for each epoch's validation and test images
    expected = sum(r["epochs"] * r["flops_per_image"] * (3 * r["train_size"] + r["val_size"] + r["test_size"])
                   for r in runs)
    assert result["total"]["train_tflop"] == pytest.approx(expected / 1e12)
    assert {row["experiment"] for row in result["experiments"]} == set(KEPT)
    cores = str(os.cpu_count())
    bound = (expected / 1e12 + result["total"]["evaluate_tflop"]) * 1e3 / result["peak_gflops"][cores]
    assert result["total"]["bound_seconds"] == pytest.approx(bound)
    # the wall time is that of the run that built the study, not of a later one with nothing to do
    assert result["total"]["wall_seconds"] > 0 and "Nothing to be done" not in Path(result["log"]).read_text()


def test_dvc_agrees_with_snakemake(study):
    project, env, _ = study
    assert json.loads(run(["dvc", "status", "--json"], project, env)) == {}
    output = run(["dvc", "repro"], project, env)
    assert stages_run(output) == set()
    # runs: every experiment of the copy's catalog, nothing else
    assert len(re.findall(r"Stage 'runs@\w+' didn't change", output)) == len(KEPT)


def test_dvc_plots_show_renders_curves_and_confusion_matrices(study, tmp_path):
    """What `dvc plots show` draws: the Vega-Lite specs DVC fills from the declared plot files,
    rendered offline (vl-convert, the Vega engine without a browser) as a reader would see them."""
    import vl_convert

    project, env, _ = study
    shown = json.loads(run(["dvc", "plots", "show", "--json"], project, env))
    assert not shown.get("errors")
    for experiment in KEPT:
        for name, columns in (("curves.csv", {"epoch", "train_acc", "val_acc", "test_acc", "train_loss",
                                              "val_loss", "test_loss"}),
                              ("seeds.csv", {"seed", "test_acc"})):
            spec = json.dumps(shown["data"][f"results/{experiment}/{name}"][0]["content"])
            assert columns <= set(json.loads(spec)["data"]["values"][0])
            png = vl_convert.vegalite_to_png(spec)
            (tmp_path / f"{experiment}-{name}.png").write_bytes(png)
            assert png.startswith(b"\x89PNG") and len(png) > 10_000
            if name == "curves.csv":  # accuracy and loss of train, val and test: six lines
                assert vl_convert.vegalite_to_svg(spec).count('aria-roledescription="line mark"') == 6


def test_parameter_change_reruns_one_experiment_in_snakemake(study):
    project, env, _ = study
    set_learning_rate(project, CHANGED, 0.05)
    planned = run([*SNAKEMAKE_ALL, "--dry-run"], project, env)
    assert job_counts(planned) == {"all": 1, "train": SEEDS, "evaluate": SEEDS, "summarize": 1, "plot": 1,
                                   "report": 1}
    assert set(re.findall(r"wildcards: exp=(\w+)", planned)) == {CHANGED}
    changed = json.loads(run(["dvc", "status", "--json"], project, env))
    assert set(changed) == dvc_changed_by_an_edit_of(CHANGED)

    output = run(SNAKEMAKE_ALL, project, env)
    assert job_counts(output) == job_counts(planned)
    assert json.loads(run(["dvc", "status", "--json"], project, env)) == {}
    diff = json.loads(run(["dvc", "metrics", "diff", "--json"], project, env))
    assert set(diff) == {f"results/{CHANGED}/summary.json"}
    assert diff[f"results/{CHANGED}/summary.json"]["test_loss.mean"]["diff"] != 0
    assert job_counts(run(SNAKEMAKE_ALL, project, env)) == {}
    run(["git", "commit", "-q", "-am", f"{CHANGED}: lr 0.05"], project, env)


def test_parameter_change_reruns_one_experiment_in_dvc(study):
    project, env, _ = study
    set_learning_rate(project, CHANGED, 0.02)
    changed = json.loads(run(["dvc", "status", "--json"], project, env))
    assert set(changed) == dvc_changed_by_an_edit_of(CHANGED)
    output = run(["dvc", "repro"], project, env)
    assert stages_run(output) == dvc_changed_by_an_edit_of(CHANGED) | {"report"}
    assert output.count(": trained 1 epoch in") == SEEDS  # the recipe changed: both seeds
    assert output.count("already trained with this recipe and code; kept") == SEEDS * (len(KEPT) - 1)
    diff = json.loads(run(["dvc", "metrics", "diff", "--json"], project, env))
    assert set(diff) == {f"results/{CHANGED}/summary.json"}
    assert json.loads(run(["dvc", "status", "--json"], project, env)) == {}
    # Snakemake finds DVC's results current (cnnlab.pipeline.freshness)
    assert job_counts(run([*SNAKEMAKE_ALL, "--dry-run"], project, env)) == {}
    run(["git", "commit", "-q", "-am", f"{CHANGED}: lr 0.02"], project, env)


def test_one_more_seed_runs_only_the_new_runs(study):
    """Snakemake plans the new seed's jobs alone (and the summaries, plots and report); DVC reruns
    each experiment's stage, in which `cnnlab train` keeps the current runs and trains the new one;
    then Snakemake finds DVC's results current. Back to two seeds, nothing trains."""
    project, env, _ = study
    set_smoke_seeds(project, [0, 1, 2])
    planned = run([*SNAKEMAKE_ALL, "--dry-run"], project, env)
    assert job_counts(planned) == {"all": 1, **per_experiment(runs=1), "report": 1}
    assert set(re.findall(r"wildcards: exp=\w+, seed=(\d+)", planned)) == {"2"}
    output = run(["dvc", "repro"], project, env)
    assert output.count("seed 2: trained 1 epoch in") == len(KEPT)
    assert output.count("already trained with this recipe and code; kept") == SEEDS * len(KEPT)
    assert json.loads((project / "results" / CHANGED / "summary.json").read_text())["n"] == 3
    assert job_counts(run([*SNAKEMAKE_ALL, "--dry-run"], project, env)) == {}
    set_smoke_seeds(project, [0, 1])
    planned = run([*SNAKEMAKE_ALL, "--dry-run"], project, env)
    assert "train" not in job_counts(planned) and "evaluate" not in job_counts(planned)
    output = run(SNAKEMAKE_ALL, project, env)
    assert json.loads((project / "results" / CHANGED / "summary.json").read_text())["n"] == 2
    assert json.loads(run(["dvc", "status", "--json"], project, env)) == {}


def test_a_change_in_defaults_reruns_every_experiment_that_takes_it(study):
    """`defaults:` is merged under every experiment: both tools see a change there (a dry run)."""
    project, env, _ = study
    catalog = (project / "params.yaml").read_text()
    params = config.read_yaml(catalog, "params.yaml")
    assert all("weight_decay" not in params["experiments"][name] for name in KEPT)
    params["defaults"]["weight_decay"] = 0.0001
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    planned = run([*SNAKEMAKE_ALL, "--dry-run"], project, env)
    assert job_counts(planned) == {"all": 1, **per_experiment(), "report": 1}
    changed = json.loads(run(["dvc", "status", "--json"], project, env))
    assert set(changed) == {f"{step}@{name}" for step in ("runs", "summary", "plot") for name in KEPT}
    (project / "params.yaml").write_text(catalog)
    assert job_counts(run([*SNAKEMAKE_ALL, "--dry-run"], project, env)) == {}
    assert json.loads(run(["dvc", "status", "--json"], project, env)) == {}


def test_a_change_to_a_base_reruns_its_variants_in_both_tools(study):
    """A variant (`base: cnn_mnist`) takes its base's keys: after the base's learning rate changes,
    Snakemake plans the variant's jobs again and DVC finds the variant's runs stage changed."""
    project, env, _ = study
    catalog = (project / "params.yaml").read_text()
    params = config.read_yaml(catalog, "params.yaml")
    variant = f"{CHANGED}_file_order"
    params["experiments"][variant] = {"base": CHANGED, "dataset": "mnist", "order": "file"}
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    output = run(SNAKEMAKE_ALL, project, env)  # the variant's runs, recorded in dvc.lock too
    assert set(re.findall(r"wildcards: exp=(\w+)", output)) == {variant}
    assert json.loads(run(["dvc", "status", "--json"], project, env)) == {}
    set_learning_rate(project, CHANGED, 0.03)
    planned = run([*SNAKEMAKE_ALL, "--dry-run"], project, env)
    assert set(re.findall(r"wildcards: exp=(\w+)", planned)) == {CHANGED, variant}
    assert job_counts(planned)["train"] == 2 * SEEDS
    changed = set(json.loads(run(["dvc", "status", "--json"], project, env)))
    assert {f"runs@{CHANGED}", f"runs@{variant}"} <= changed
    (project / "params.yaml").write_text(catalog)


def project_without_cifar10(folder: Path) -> tuple[Path, dict]:
    """A git+DVC project of KEPT whose mirror lacks CIFAR-10, as offline on the course's machines."""
    write_mirror(folder / "mirror", datasets=("mnist", "fashion_mnist"), n_train=600, n_test=200)
    project = make_project(folder, KEPT)
    env = environment(folder, project)
    init_git_and_dvc(project, env)
    return project, env


def set_datasets(project: Path, datasets: list[str]) -> None:
    params = config.read_params(project / "params.yaml")
    params["datasets"] = datasets
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def leave_out_cifar10(project: Path) -> None:
    set_datasets(project, ["mnist", "fashion_mnist"])


LEFT_OUT = ("Left out of the study: convnet_cifar10 (cifar10: left out by <code>datasets</code> in "
            "params.yaml; name it there to run it).")


def test_snakemake_study_without_a_dataset_builds_its_report(tmp_path):
    """`all` stops at the fetch it cannot do, saying how to go on; without cifar10 in `datasets`
    the study runs to its report, which names what it left out."""
    project, env = project_without_cifar10(tmp_path)
    output = run([*SNAKEMAKE_ALL, "--keep-going"], project, env, ok=False)
    assert "could not fetch cifar10" in output and "leave it out of `datasets` in params.yaml" in output
    assert (project / "results" / "cnn_mnist" / "plots").is_dir()
    assert not (project / "results" / "report.html").exists()

    leave_out_cifar10(project)
    output = run(SNAKEMAKE_ALL, project, env)
    assert job_counts(output) == {"all": 1, "report": 1}  # the experiments were built before
    # DVC agrees: its stages of the left-out dataset were run too, and build nothing
    assert json.loads(run(["dvc", "status", "--json"], project, env)) == {}
    summary = (project / "results" / "summary.csv").read_text()
    assert "cnn_mnist" in summary and "lenet_sigmoid_fashionmnist" in summary
    assert "convnet_cifar10" not in summary
    assert LEFT_OUT in (project / "results" / "report.html").read_text()
    output = run(["snakemake", "all", "--cores", "1", "--config", "datasets=[mnist]"], project, env, ok=False)
    assert "datasets: edit it in params.yaml" in output


def test_dvc_study_without_a_dataset_builds_its_report(tmp_path):
    """`datasets` means to DVC what it means to Snakemake: `dvc repro` stops at the fetch it cannot
    do with the same advice; without cifar10 in `datasets` it runs to the report, the stages of
    cifar10 and its experiment doing nothing (cnnlab.pipeline.left_out), and both tools find the study up to
    date. Put back, with its data, both tools plan to build that experiment alone; DVC builds it,
    and Snakemake agrees."""
    project, env = project_without_cifar10(tmp_path)
    output = run(["dvc", "repro"], project, env, ok=False)
    assert "could not fetch cifar10" in output and "leave it out of `datasets` in params.yaml" in output

    leave_out_cifar10(project)
    output = run(["dvc", "repro"], project, env)
    why = "left out by `datasets` in params.yaml; name it there to run it"
    assert f"convnet_cifar10: cifar10 is left out of the study ({why}); not trained (--skip-left-out)" \
        in output
    assert LEFT_OUT in (project / "results" / "report.html").read_text()
    left_out = project / "results" / "convnet_cifar10"
    assert json.loads((left_out / "summary.json").read_text())["left_out"] == \
        f"cifar10 is left out of the study ({why})"
    assert (left_out / "seeds.csv").read_text().startswith("seed,test_acc,")
    assert [*(project / "data" / "raw" / "cifar10").iterdir()] == [*(left_out / "runs").iterdir()] == []
    assert json.loads(run(["dvc", "status", "--json"], project, env)) == {}
    assert job_counts(run([*SNAKEMAKE_ALL, "--dry-run"], project, env)) == {}
    assert "cnn_mnist" in run(["dvc", "metrics", "show"], project, env)
    run(["dvc", "plots", "show", "-o", str(tmp_path / "plots")], project, env)

    write_mirror(tmp_path / "mirror", datasets=("cifar10",), n_train=600, n_test=200)
    set_datasets(project, ["mnist", "fashion_mnist", "cifar10"])
    before = tree_listing(project)
    planned = run([*SNAKEMAKE_ALL, "--dry-run"], project, env)  # the empty folder is no dataset to it
    assert tree_listing(project) == before  # and the dry run left it, and all else, as it was
    assert job_counts(planned) == {"all": 1, "fetch": 1, "train": SEEDS, "evaluate": SEEDS, "summarize": 1,
                                   "plot": 1, "report": 1}
    ran = stages_run(run(["dvc", "repro"], project, env))
    built = {"fetch@cifar10", "runs@convnet_cifar10", "summary@convnet_cifar10", "plot@convnet_cifar10"}
    assert built | {"report"} <= ran and "summary@cnn_mnist" not in ran  # the others' runs are kept
    assert "convnet_cifar10" in (project / "results" / "summary.csv").read_text()
    assert json.loads(run(["dvc", "status", "--json"], project, env)) == {}
    assert job_counts(run([*SNAKEMAKE_ALL, "--dry-run"], project, env)) == {}


def test_invalid_params_stop_snakemake_before_any_job(tmp_path):
    project = make_project(tmp_path)
    env = environment(tmp_path, project)
    params = config.read_params(project / "params.yaml")
    params["experiments"]["lenet5_mnist"]["lr"] = -1
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    output = run(["snakemake", "--cores", "1", "--dry-run", "all"], project, env, ok=False)
    assert "experiments.lenet5_mnist.lr: -1 is out of range; allowed: a value > 0" in output
    assert "Job stats" not in output
    (project / "params.yaml").write_text((REPO / "params.yaml").read_text())
    output = run(["snakemake", "--cores", "1", "--dry-run", "all", "--config", "scale=huge"],
                 project, env, ok=False)
    assert "scale: 'huge' is not defined; allowed: ['full', 'smoke']" in output
    assert "Job stats" not in output


def test_config_reaches_cnnlab_as_set_options(tmp_path):
    project = make_project(tmp_path)
    env = environment(tmp_path, project)
    (project / "params.yaml").write_text(whole_catalog())  # scale: full
    output = run(["snakemake", "--cores", "1", "--dry-run", "--printshellcmds", "all",
                  "--config", "seeds=[3]"], project, env)
    # one run a seed; an experiment's own seeds beat the study's, as when params.yaml says seeds: [3]
    assert "cnnlab train lenet5_mnist --seed 3 --threads 1 --set 'seeds=[3]' 2>&1" in output
    assert "cnnlab train lenet5_mnist --seed 0" not in output
    assert "cnnlab train resnet18_cifar10_long --seed 42 --threads 1 2>&1" in output
    output = run(["snakemake", "--cores", "1", "--dry-run", "--printshellcmds", "all"], project, env)
    assert "cnnlab train lenet5_mnist --seed 4 --threads 1 2>&1" in output


def snakemake_jobs(project: Path, env: dict) -> list[dict]:
    """The jobs `snakemake --dry-run all` plans: [{"rule": ..., "input": [...], "output": [...],
    "wildcards": {...}}]."""
    output = run(["snakemake", "--cores", "1", "--dry-run", "all"], project, env)
    jobs = []
    for block in re.split(r"^(?:local)?rule (?=\w+:$)", output, flags=re.MULTILINE)[1:]:
        rule, *lines = block.splitlines()
        job = {"rule": rule.rstrip(":"), "input": [], "output": [], "wildcards": {}}
        for line in lines:
            key, _, value = line.strip().partition(": ")
            if key in ("input", "output"):
                job[key] = value.split(", ")
            elif key == "wildcards":
                job[key] = dict(pair.split("=", 1) for pair in value.split(", "))
        jobs.append(job)
    return jobs


def source_files(deps: list[str]) -> set[str]:
    """DVC's dependencies under src/, a folder standing for the code files in it (Snakemake's are files)."""
    return {os.path.relpath(file, REPO) for dep in deps if dep.startswith("src/")
            for file in entry_files(str(REPO / dep))}


def dvc_stages(project: Path) -> dict[str, dict]:
    """dvc.yaml's stages as {name: {"outs": [...], "deps": [...]}}, read by DVC itself."""
    script = ("import json; from dvc.repo import Repo; repo = Repo('.');"
              "print(json.dumps({s.addressing: {'outs': [o.def_path for o in s.outs],"
              " 'deps': [d.def_path for d in s.deps]} for s in repo.index.stages}))")
    done = subprocess.run([sys.executable, "-c", script], cwd=project, capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout)


@pytest.mark.parametrize("weights_cached", [False, True])
def test_snakemake_and_dvc_cover_the_same_experiments_and_outputs(tmp_path, weights_cached):
    project = make_project(tmp_path)
    (project / "params.yaml").write_text(whole_catalog())
    env = environment(tmp_path, project)
    run(["git", "init", "-q"], project, env)
    run(["dvc", "init", "-q"], project, env)
    if weights_cached:
        checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
        checkpoints.mkdir(parents=True)
        (checkpoints / "resnet18-f37072fd.pth").write_bytes(b"")
    jobs = snakemake_jobs(project, env)
    stages = dvc_stages(project)
    catalog = config.read_params(REPO / "params.yaml")["experiments"]
    pretrained = {name for name, spec in catalog.items() if spec.get("pretrained")}
    assert pretrained == {"resnet18_transfer_cifar10"}

    # Snakemake's `all` builds every experiment, less E8 while its weights are not cached;
    # DVC has every stage of every experiment (workflow_support.dvc_stage names the stage of a job:
    # DVC's `runs@EXP` makes what Snakemake's train and evaluate jobs of every seed of EXP make).
    in_all = set(catalog) if weights_cached else set(catalog) - pretrained
    names, code = set(), {}
    for job in (job for job in jobs if job["rule"] != "all"):
        if job["rule"] == "fetch":
            name = next(n for n, stage in stages.items() if stage["outs"] == job["output"])
        elif job["rule"] == "report":
            name = "report"  # its files lie in its dependency results/: DVC declares none
        else:
            name = dvc_stage(job["rule"], {"exp": job["output"][0].split("/")[1]})
            if name.startswith("runs@"):
                runs_folder = stages[name]["outs"][0]
                assert all(Path(out).parent.parent.as_posix() == runs_folder for out in job["output"])
            else:
                assert set(job["output"]) == set(stages[name]["outs"]), name
        names.add(name)
        code.setdefault(name, set()).update(path for path in job["input"] if path.startswith("src/"))
    assert all(code[name] == source_files(stages[name]["deps"]) for name in names), names
    expected = {n for n in stages if n.split("@")[-1] in in_all or "@" not in n
                or n.startswith("fetch@")}
    assert names == expected
    assert {n.split("@")[1] for n in stages if n.startswith("runs@")} == set(catalog)
    seeds = config.load_params(REPO / "params.yaml")["seeds"]
    trained = [job for job in jobs if job["rule"] == "train" and "/lenet5_mnist/" in job["output"][0]]
    assert sorted(job["output"][0].split("/")[3] for job in trained) == [f"seed{k}" for k in seeds]


def test_dvc_fetches_every_dataset_cnnlab_knows():
    from cnnlab.data.catalog import DATASETS

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert stages["fetch"]["foreach"] == list(DATASETS)
