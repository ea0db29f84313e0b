"""`dvc plots show` draws offline: its HTML page (from the template that .dvc/config names) holds
Vega inline, and in a real headless Chromium every plot renders with no script failing to load."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from cnnlab.results.records import HISTORY_COLUMNS
from test_plots_report import CHROMIUM, Browser

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # dvc of the same environment
EXPERIMENT = "lenet5_mnist"


def run(command: list[str], cwd: Path) -> str:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", DVC_NO_ANALYTICS="1")
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def declared_plots() -> list[dict]:
    """The plots that dvc.yaml's stages declare, for one experiment."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    plots = [p for stage in stages.values() for p in stage.get("do", stage).get("plots", [])]
    plots = yaml.safe_load(yaml.safe_dump(plots).replace("${key}", EXPERIMENT))
    # as top-level plots (no stage): without the stage-only key `cache`
    return [{path: {k: v for k, v in props.items() if k != "cache"} for path, props in plot.items()}
            for plot in plots]


def write_results(folder: Path) -> None:
    """curves.csv and seeds.csv as `cnnlab summarize` writes them: three epochs, five seeds."""
    folder.mkdir(parents=True)
    rows = [[epoch, 1 / epoch, 0.8 + epoch / 100, 1.1 / epoch, 0.79 + epoch / 100, 1.2 / epoch,
             0.78 + epoch / 100, 0.001, 10.0, 5000.0] for epoch in (1, 2, 3)]
    (folder / "curves.csv").write_text(
        ",".join(HISTORY_COLUMNS) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    (folder / "seeds.csv").write_text(
        "seed,test_acc,val_acc\n" + "".join(f"{s},{0.9 + s / 100},{0.89 + s / 100}\n" for s in range(5)))


def dvc_repo(folder: Path) -> Path:
    """A DVC repository with the project's .dvc/config and plot templates and one experiment's plots."""
    folder.mkdir()
    run(["dvc", "init", "--no-scm", "-q"], folder)
    shutil.copy2(REPO / ".dvc" / "config", folder / ".dvc" / "config")
    shutil.copytree(REPO / ".dvc" / "plots", folder / ".dvc" / "plots",
                    ignore=shutil.ignore_patterns("offline.html"))  # written below, as `make venv` does
    (folder / "dvc.yaml").write_text(yaml.safe_dump({"plots": declared_plots()}, sort_keys=False))
    write_results(folder / "results" / EXPERIMENT)
    return folder


def test_dvc_plots_show_draws_every_plot_offline(tmp_path):
    assert CHROMIUM is not None, "Debian's chromium is needed (apt-get install chromium; CI installs it)"
    repo = dvc_repo(tmp_path / "repo")
    # as `make venv`
    run([sys.executable, "-m", "cnnlab.pipeline.offline_plots", ".dvc/plots/offline.html"], repo)
    run(["dvc", "plots", "show", "-o", "shown"], repo)
    page = (repo / "shown" / "index.html").read_text()
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page), "the page loads something from the web"
    plot_ids = re.findall(r'<div id = "([^"]+)">', page)
    assert len(plot_ids) == len(declared_plots()) == 2

    with Browser(tmp_path) as browser:
        errors = browser.open((repo / "shown" / "index.html").as_uri())
        drawn = browser.evaluate("""new Promise(resolve => {
            const ids = PLOT_IDS, started = Date.now();
            const drawn = () => ids.filter(id => document.getElementById(id).querySelector('svg, canvas'));
            const look = () => (drawn().length === ids.length || Date.now() - started > 20000)
                ? resolve(drawn()) : setTimeout(look, 100);
            look();
        })""".replace("PLOT_IDS", json.dumps(plot_ids)))
        sizes = browser.evaluate("""[...document.querySelectorAll('canvas, svg.marks')]
            .map(e => [e.clientWidth, e.clientHeight])""")
    assert errors == []
    assert drawn == plot_ids
    assert len(sizes) == len(plot_ids) and all(w > 100 and h > 100 for w, h in sizes)


def test_a_template_path_that_cannot_be_written_is_one_line(tmp_path):
    (tmp_path / "a-file").write_text("not a folder\n")
    target = tmp_path / "a-file" / "offline.html"
    done = subprocess.run([sys.executable, "-m", "cnnlab.pipeline.offline_plots", str(target)],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"cnnlab: error: {target}: cannot write") and done.stderr.count("\n") == 1
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]
