"""The fast path: precision selection, memory format, and smoke runs of the benchmarks, so they can't rot."""

import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from cnnlab.data.catalog import DATASETS
from cnnlab.errors import CnnlabError
from cnnlab.training import engine, runtime

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import bench  # noqa: E402
import harness  # noqa: E402
import memory  # noqa: E402
import parity  # noqa: E402
import profile_step  # noqa: E402

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.mark.parametrize("flags, native, expected", [
    ("fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile", True, "bf16"),  # Sapphire Rapids
    # native bf16 but slower than fp32 here: a bf16 matmul at half the fp32 rate (docs/performance.md)
    ("fpu avx2 avx512f avx512_bf16 avx512_vnni", True, "fp32"),
    ("fpu avx2 fma avx512f avx512_vnni", False, "fp32"),  # AVX-512 without BF16
    ("fpu avx2 fma", False, "fp32"),  # AVX2 only: bf16 would be emulated, far slower
])
def test_auto_precision_on_the_cpu_is_bf16_only_where_it_is_faster(tmp_path, monkeypatch, flags, native,
                                                                    expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert runtime.cpu_has_bf16(str(cpuinfo)) == native
    assert runtime.cpu_bf16_is_faster(str(cpuinfo)) == (expected == "bf16")
    monkeypatch.setattr(runtime, "cpu_bf16_is_faster", lambda: expected == "bf16")
    assert runtime.pick_precision("auto", CPU) == expected


def test_no_cpuinfo_means_no_bf16(tmp_path):
    assert runtime.cpu_has_bf16(str(tmp_path / "missing")) is False


@pytest.mark.parametrize("bf16_supported, expected", [(True, "bf16"), (False, "fp16")])
def test_auto_precision_on_cuda_is_bf16_or_fp16_with_a_scaler(monkeypatch, bf16_supported, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16_supported)
    assert runtime.pick_precision("auto", CUDA) == expected


@pytest.mark.parametrize("device_type, bf16_fast, expected", [
    ("cuda", True, "bf16"),  # compute capability 8 or more (A100, H100)
    ("cuda", False, "fp16"),  # older GPUs only emulate bf16: fp16 with a gradient scaler
    ("cpu", True, "bf16"),  # AMX
    ("cpu", False, "fp32"),
])
def test_auto_precision_follows_the_hardware_it_is_told_of(device_type, bf16_fast, expected):
    assert runtime.choose_precision("auto", device_type, bf16_fast) == expected
    assert runtime.choose_precision("fp32", device_type, bf16_fast) == "fp32"


def test_bf16_on_a_gpu_counts_only_when_native(monkeypatch):
    asked = {}
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda **kw: asked.update(kw) or False)
    assert runtime.bf16_is_fast(CUDA) is False and asked == {"including_emulation": False}


@pytest.mark.parametrize("deterministic, current, expected", [
    (True, None, ":4096:8"),
    (True, ":16:8", ":16:8"),  # the user's own deterministic setting is kept
    (True, ":0:0", ":4096:8"),  # one torch would refuse in deterministic mode
    (False, None, None),
    (False, ":0:0", ":0:0"),
])
def test_cublas_workspace_is_set_for_deterministic_runs(deterministic, current, expected):
    assert runtime.cublas_workspace_config(deterministic, current) == expected


@pytest.fixture
def determinism_as_it_was():
    workspace = os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
    flags = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
             torch.backends.cudnn.benchmark)
    yield
    os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
    if workspace is not None:
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = workspace
    torch.use_deterministic_algorithms(flags[0])
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = flags[1:]


@pytest.mark.parametrize("deterministic", [True, False])
def test_determinism_turns_cudnn_autotuning_off_and_on(determinism_as_it_was, deterministic):
    runtime.set_determinism(deterministic)
    assert torch.are_deterministic_algorithms_enabled() == deterministic
    assert torch.backends.cudnn.deterministic == deterministic
    assert torch.backends.cudnn.benchmark == (not deterministic)
    assert os.environ.get("CUBLAS_WORKSPACE_CONFIG") == (":4096:8" if deterministic else None)


def test_explicit_precision_is_kept_and_fp16_needs_cuda():
    for name in ("fp32", "bf16"):
        assert runtime.pick_precision(name, CPU) == name
    assert runtime.pick_precision("fp16", CUDA) == "fp16"
    with pytest.raises(CnnlabError, match="fp16 needs a CUDA GPU"):
        runtime.pick_precision("fp16", CPU)


def test_autocast_is_off_for_fp32_and_bf16_otherwise():
    with runtime.autocast(CPU, "fp32"):
        assert not torch.is_autocast_enabled("cpu")
    with runtime.autocast(CPU, "bf16"):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16


@pytest.mark.parametrize("model", ["lenet5", "vgg_lab", "resnet18"])
def test_models_and_batches_are_channels_last(model):
    cfg = {"model": model, "init": "default", "trainable": "all", "pretrained": False}
    built = engine.build_model(cfg, 10, CPU)
    convs = [m for m in built.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    assert not convs[-1].weight.is_contiguous()  # wide enough for the layouts to differ
    params = {"normalize": "dataset", "augment": "none", "permute": False, "seed": 0}
    prepare = engine.make_preparer(params, SimpleNamespace(info=DATASETS["cifar10"], train_x=torch.zeros(0)))
    batch = prepare(torch.zeros(2, 3, 32, 32, dtype=torch.uint8), train=False)
    assert batch.is_contiguous(memory_format=torch.channels_last) and not batch.is_contiguous()


@pytest.mark.slow  # runs a benchmark script end to end
def test_bench_runs_both_loops_and_writes_the_tables(mnist_root, tmp_path):
    out = tmp_path / "bench.json"
    assert bench.main(["--quick", "--root", str(mnist_root), "--threads", "1", "--json", str(out),
                       "--markdown", str(tmp_path / "bench.md")]) == 0
    result = json.loads(out.read_text())
    rows = {r["experiment"]: r for r in result["rows"]}
    assert rows["lenet5_mnist"]["data"] == "files" and rows["convnet_cifar10"]["data"] == "random"
    for row in rows.values():
        assert row["labs"] > 0 and row["cnnlab"] > 0 and row["ratio"] > 0 and row["flops"] > 0
    assert result["matmul_gflops"]["fp32"] > 0 and result["machine"]["threads"] == 1
    # the harness's record: what ran, on which code, and the machine with its load over the run
    assert result["benchmark"] == "bench" and result["quick"] is True
    assert result["command"].startswith("python benchmarks/bench.py --quick")
    assert {"commit", "cpu", "cores", "load_average_start", "load_average_end"} <= set(result["machine"])
    table = (tmp_path / "bench.md").read_text()
    assert table.startswith("Command: `python benchmarks/bench.py --quick") and "QUICK sizes" in table
    assert "| lenet5_mnist | lenet5 | 64 | 2 | files |" in table


def test_a_full_run_keeps_the_measured_record(monkeypatch, tmp_path):
    """Without --json a full run writes benchmarks/results/<name>-<date>.json, and refuses, before
    measuring, to replace one that is there; a quick run writes nothing unless told where."""
    monkeypatch.setattr(harness, "RESULTS", tmp_path)
    args = bench.parse_args([])
    assert args.json.parent == tmp_path and args.json.name.startswith("bench-")
    args.json.write_text("{}")
    with pytest.raises(SystemExit, match="part of the measured record"):
        bench.parse_args([])
    assert bench.parse_args(["--quick"]).json is None


def test_memory_is_what_cnnlab_plan_measures_in_a_process_of_its_own(tmp_path):
    out = tmp_path / "memory.json"
    assert memory.main(["--quick", "--json", str(out)]) == 0
    (row,) = json.loads(out.read_text())["rows"]
    assert row["experiment"] == "lenet5_mnist" and row["peak_memory_mb"] > 0 and row["train_ips"] > 0


def test_bench_labs_loop_uses_the_labs_transforms(mnist_root):
    args = bench.parse_args(["--quick", "--root", str(mnist_root)])
    cfg = harness.run_config(args, "vgg_cifar10")
    names = [type(t).__name__ for t in bench.labs_transform(cfg, DATASETS["cifar10"]).transforms]
    assert names == ["RandomCrop", "RandomHorizontalFlip", "ToTensor", "Normalize"]
    cfg = harness.run_config(args, "convnet_cifar10")
    assert [type(t).__name__ for t in bench.labs_transform(cfg, DATASETS["cifar10"]).transforms] \
        == ["ToTensor"]


@pytest.mark.slow  # runs a benchmark script end to end
def test_parity_runs_cnnlab_and_writes_the_table(mnist_root, tmp_path):
    doc = tmp_path / "performance.md"
    doc.write_text(f"# Performance\n\n{parity.BEGIN}\nold\n{parity.END}\n\nmore text\n")
    assert parity.main(["--root", str(mnist_root), "--experiments", "lenet5_mnist", "--seeds", "0",
                        "--set", "epochs=1", "--set", "limit_train=128", "--set", "limit_test=64",
                        "--set", "data.val_size=64", "--set", "data.verify=false", "--threads", "1",
                        "--runs", str(tmp_path / "runs"), "--csv", str(tmp_path / "parity.csv"),
                        "--doc", str(doc), "--json", str(tmp_path / "parity.json")]) == 0
    text = doc.read_text()
    assert "old" not in text and text.endswith("more text\n") and "| lenet5_mnist |" in text
    lines = (tmp_path / "parity.csv").read_text().splitlines()
    assert lines[0].startswith("experiment,precision,seed,test_acc") and len(lines) == 3
    assert {line.split(",")[1] for line in lines[1:]} == {"fp32", "bf16"}
    assert len(json.loads((tmp_path / "parity.json").read_text())["rows"]) == 2


def test_peak_memory_is_the_process_own_not_its_parents():
    """`ru_maxrss` survives execve: a run started by a big process must not report that one's peak."""
    import resource
    import subprocess

    ballast = b"\x01" * (800 * 2**20)  # the parent's peak grows by 800 MB
    parent_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    code = ("import torch; from cnnlab.training import runtime; "
            "print(runtime.peak_memory_mb(torch.device('cpu')))")
    child_mb = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                    check=True).stdout)
    del ballast
    assert 0 < child_mb < parent_mb - 500


def test_profile_step_splits_a_step_into_convolutions_and_the_rest(mnist_root, tmp_path):
    out = tmp_path / "profile.json"
    assert profile_step.main(["--quick", "--root", str(mnist_root), "--json", str(out)]) == 0
    runs = json.loads(out.read_text())["experiments"]["lenet5_mnist"]
    assert [r["fill"] for r in runs] == [True, False]
    for r in runs:
        assert 0 < r["convolution_seconds"] < r["wall_seconds"] and r["gflops"] > 0
        seconds = [s for _, s in r["top"]]
        assert len(seconds) == profile_step.TOP and seconds == sorted(seconds, reverse=True)
        assert "aten::convolution_backward" in dict(r["top"])
    assert torch.utils.deterministic.fill_uninitialized_memory  # torch's default again
