"""notebooks/cnnlab_colab.ipynb, executed headless as Colab would run it, on the CPU at smoke scale.

papermill sets the notebook's parameters: PROJECT is a copy of this checkout (tests/test_pipeline.py's
make_project: two experiments, the 1x1-convolution question, synthetic offline MNIST) and SCALE
"smoke". The kernel runs in a throwaway virtual environment layered over this one, so that the
notebook's own `pip install --editable` really installs the copy, and leaves this environment as it was.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from cnnlab import config
from synthetic import write_mirror
from test_pipeline import environment, make_project

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "cnnlab_colab.ipynb"
QUESTION = "q4_conv1x1"  # a question with one variant: the smallest study whose report answers one
KERNEL = "cnnlab-notebook-test"


def notebook() -> dict:
    return json.loads(NOTEBOOK.read_text())


def test_committed_notebook_has_no_outputs_and_one_parameters_cell():
    cells = notebook()["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)
    parameters = [cell for cell in code if "parameters" in cell["metadata"].get("tags", [])]
    assert len(parameters) == 1 and parameters == code[:1]
    assert set(re.findall(r"^([A-Z_]+) =", "".join(parameters[0]["source"]), re.M)) == {
        "REPO_URL", "PROJECT", "SCALE"}


def smoke_project(folder: Path) -> Path:
    """A copy of the project whose catalog is QUESTION's two experiments, at full scale: only the
    notebook's SCALE makes it a smoke run."""
    write_mirror(folder / "mirror", datasets=("mnist",), n_train=600, n_test=200)
    question = config.read_params(REPO / "params.yaml")["questions"][QUESTION]
    project = make_project(folder, [question["base"], *question["variants"]])
    params = config.read_params(project / "params.yaml")
    params.update(scale="full", datasets=["mnist"], questions={QUESTION: question})
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for name in ("pyproject.toml", "README.md"):  # what pip needs to install the copy
        shutil.copy2(REPO / name, project / name)
    return project


def kernel_environment(folder: Path) -> Path:
    """A virtual environment that sees this one's packages, and a Jupyter kernel that runs in it."""
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site_packages = subprocess.run([str(python), "-c", where], capture_output=True, text=True,
                                   check=True).stdout.strip()
    # a .pth line that starts with `import` runs: addsitedir also reads this environment's own .pth
    # files; named to sort last, so what pip installs into the new environment comes first
    (Path(site_packages) / "zz_parent.pth").write_text(
        f"import site; site.addsitedir({sysconfig.get_path('purelib')!r})\n")
    spec = folder / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": KERNEL, "language": "python"}))
    return venv


def markdown_shown(cell: dict) -> str:
    return "".join("".join(out["data"].get("text/markdown", "")) for out in cell["outputs"]
                   if out["output_type"] == "display_data")


def printed(cell: dict) -> str:
    return "".join("".join(out["text"]) for out in cell["outputs"] if out["output_type"] == "stream")


@pytest.mark.slow
def test_notebook_installs_the_checkout_runs_the_study_and_shows_the_answers(tmp_path, monkeypatch):
    import papermill

    project = smoke_project(tmp_path)
    venv = kernel_environment(tmp_path)
    for key, value in environment(tmp_path, project).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("PYTHONPATH")  # the notebook's install, not a path, must bring the copy's code
    monkeypatch.setenv("PATH", f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}")  # as if activated
    monkeypatch.setenv("VIRTUAL_ENV", str(venv))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    # offline: every requirement is in the environment already, setuptools included (no isolated build)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_NO_BUILD_ISOLATION", "0")
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")

    parameters = {"PROJECT": str(project), "SCALE": "smoke"}
    ran = papermill.execute_notebook(str(NOTEBOOK), None, parameters=parameters, kernel_name=KERNEL,
                                     cwd=str(tmp_path), progress_bar=False)

    assert (venv / "bin" / "cnnlab").is_file()  # pip installed the copy into the kernel's environment
    check = printed(next(cell for cell in ran["cells"] if "torch.cuda.is_available()" in cell["source"]))
    assert "No GPU: every job trains on this CPU." in check and "Scale: smoke." in check
    # the dry run's table, once: 2 experiments x 2 seeds
    assert check.count("Job stats:") == 1 and re.search(r"^train\s+4$", check, re.M)

    report = (project / "results" / "report.md").read_text()
    shown = "".join(markdown_shown(cell) for cell in ran["cells"] if cell["cell_type"] == "code")
    question = config.read_params(REPO / "params.yaml")["questions"][QUESTION]
    answer = report.split(f"### {question['title']}\n\n")[1].split("\n\n")[0]
    assert answer.startswith("**") and answer in shown  # the answer's conclusion, in bold
    assert "Runs at smoke scale are in this report" in shown  # SCALE = "smoke" reached Snakemake
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", report)
    assert len(figures) == 11 and shown.count("](data:image/png;base64,") == len(figures)
    assert "## Experiments" in shown and not re.search(r"\]\((?!data:|#)", shown)
