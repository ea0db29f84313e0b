"""benchmarks/seeds_together.py: several seeds trained together match cnnlab's own run of each seed."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import seeds_together  # noqa: E402

EXPERIMENTS = ("lenet5_mnist", "cnn_mnist")  # Adam and SGD with momentum


def test_the_benchmark_writes_its_tables_and_each_seed_matches_its_own_run(mnist_root, tmp_path):
    out = tmp_path / "seeds.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "seeds_together.py"), "--root", str(mnist_root),
         "--experiments", *EXPERIMENTS, "--steps", "2", "--check-steps", "4", "--seeds-together", "2", "3",
         "--threads", "1", "--rounds", "1", "--matmul-size", "128", "--set", "data.val_size=100",
         "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    rows = {(r["experiment"], r["way"], r["seeds"]): r for r in report["rows"]}
    ways = [("cnnlab", 1), ("vmap", 2), ("vmap", 3), ("loop", 2), ("loop", 3)]
    assert set(rows) == {(name, way, seeds) for name in EXPERIMENTS for way, seeds in ways}
    for row in rows.values():
        assert row["images_per_sec"] > 0 and row["gflops"] > 0 and row["flops"] > 0
    assert "| lenet5_mnist | lenet5 | 64 | 2 | 1 | vmap | 3 |" in result.stdout
    assert "| cnn_mnist | 1 | loop | 3 | 4 |" in result.stdout  # the equality table
    assert {e["experiment"] for e in report["evaluation"]} == set(EXPERIMENTS)

    checks = {(c["experiment"], c["way"], c["seeds"]): c for c in report["checks"]}
    assert len(checks) == 8
    for (name, way, _), check in checks.items():
        assert check["max_abs_change"] > 1e-4  # training moved the parameters
        if way == "loop":  # cnnlab's own kernels, one optimizer over all seeds: the same numbers
            assert check["max_abs_difference"] == 0 and check["max_loss_difference"] == 0
        else:  # vmap's grouped kernels sum in another order: rounding only
            assert check["max_loss_difference"] < 1e-5
            if name == "cnn_mnist":  # SGD keeps rounding at its size; Adam can magnify it (its docs)
                assert check["max_abs_difference"] < 1e-5


def test_the_check_tells_the_seeds_apart(mnist_root):
    """The comparison is not trivially small: seed 1 together against seed 0's own run differs."""
    args = seeds_together.parse_args(["--root", str(mnist_root), "--set", "data.val_size=100"])
    cfg = seeds_together.experiment_config(args, "cnn_mnist")
    datas = [seeds_together.bench.subset(d, 4 * cfg["batch_size"])
             for d in seeds_together.load_seed_data(cfg, 2, 4 * cfg["batch_size"])]
    cfgs = seeds_together.seed_cfgs(cfg, 2)
    together = seeds_together.set_up_together("vmap", cfgs, datas, threads=1)
    seeds_together.train_together(together, 1)
    references, initial = [], []
    for run_cfg, data in zip(cfgs, datas):
        run = seeds_together.engine.set_up_training(run_cfg, 1, data=data)
        initial.append({name: p.detach().clone() for name, p in run.model.named_parameters()})
        seeds_together.cnnlab_train.train_one_epoch(run, 1)
        references.append(run)
    same, _ = seeds_together.max_differences(together, references, initial)
    swapped, _ = seeds_together.max_differences(together, references[::-1], initial[::-1])
    assert same < 1e-5 < 1e-2 < swapped
