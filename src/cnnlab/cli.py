"""The `cnnlab` command: the entry points that Snakemake and DVC both call."""

import argparse
import os
import sys
from pathlib import Path

from cnnlab.data.catalog import DATASETS, MIRROR_VARIABLE, dataset_info, mirror_folder
from cnnlab.errors import CnnlabError, describe_os_error
from cnnlab.results import layout
from cnnlab.text import count

MAX_THREADS = 1024
MAX_SEED = 2**32 - 1  # numpy's seeds are 32-bit; params.schema.yaml bounds `seeds` the same


class Parser(argparse.ArgumentParser):
    """argparse with its errors on one line, like cnnlab's own: `cnnlab: error: ...`, exit code 2."""

    def error(self, message):
        self.exit(2, f"cnnlab: error: {message}; see `{self.prog} --help`\n")


def thread_count(text: str) -> int:
    """--threads: a whole number from 1 to MAX_THREADS (torch.set_num_threads fails on others)."""
    try:
        threads = int(text)
    except ValueError:
        threads = 0
    if not 1 <= threads <= MAX_THREADS:
        raise argparse.ArgumentTypeError(f"{text[:60]!r} is not a thread count; allowed: a whole number "
                                         f"from 1 to {MAX_THREADS}, e.g. --threads 2")
    return threads


def _experiment_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("experiment", help="an experiment name from params.yaml (see `cnnlab list`)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="one-off override, e.g. --set epochs=1 --set lr=0.01 (like `dvc exp run -S`)")
    p.add_argument("--out", type=Path, help="the experiment's results folder (default: results/EXPERIMENT)")
    p.add_argument("--threads", type=thread_count, help="CPU threads for torch (default: torch's choice)")


def _skip_left_out_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--skip-left-out", action="store_true",
                   help="for a dataset that `datasets` in params.yaml leaves out of the study: do nothing "
                        "but leave this step's outputs empty (DVC's stages, which cannot be left out)")


def _seed_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=seed_number,
                   help="one of the experiment's seeds (default: each of them, into OUT/runs/seed<k>/)")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="cnnlab", description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"),
                        help="the experiment catalog (default: params.yaml)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("list", help="list the experiments of params.yaml, with their STUDY.md numbers")

    p = sub.add_parser("fetch", help="put a dataset under data/raw/ (mirror, Debian package, or download)")
    p.add_argument("dataset", help=" | ".join(DATASETS))
    p.add_argument("--root", type=Path, help="target folder (default: data.root of params.yaml)")
    p.add_argument("--mirror", type=Path,
                   help=f"offline mirror folder (default: ${MIRROR_VARIABLE}, else data.mirror)")
    p.add_argument("--no-verify", action="store_true",
                   help="accept copies whose digests are unknown (recorded as data_verified: false)")
    _skip_left_out_arg(p)

    p = sub.add_parser("train", help="train one experiment, once per seed (a seed already trained with "
                                     "the same recipe and code is kept)")
    _experiment_args(p)
    _seed_arg(p)
    p.add_argument("--resume", action="store_true", help="continue each run from its last.pt")
    _skip_left_out_arg(p)

    p = sub.add_parser("evaluate", help="test each run's selected checkpoint: metrics, per-class, confusion")
    _experiment_args(p)
    _seed_arg(p)
    _skip_left_out_arg(p)

    p = sub.add_parser("summarize", help="an experiment's runs together: mean, SD and 95 %% interval "
                                         "over its seeds (summary.json, seeds.csv)")
    _experiment_args(p)
    _skip_left_out_arg(p)

    p = sub.add_parser("plot", help="figures of one experiment into results/EXPERIMENT/plots/")
    _experiment_args(p)
    _skip_left_out_arg(p)

    p = sub.add_parser("report", help="the study's summary, reproduction table, HTML report and its write-up "
                                      "(report.md; report.zh.md in Chinese)")
    p.add_argument("--results", type=Path, default=Path("results"), help="results folder")

    p = sub.add_parser("plan", help="before the run: every job, its time and memory here, what is up to "
                                    "date, where the data comes from")
    p.add_argument("--budget", type=positive_number, default=4.0, metavar="HOURS",
                   help="flag jobs estimated to take longer (default: 4)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="as for `cnnlab train`, e.g. --set scale=smoke")
    p.add_argument("--threads", type=thread_count,
                   help="torch threads of a training job (default: as the rules give them, 1)")
    p.add_argument("--no-calibrate", action="store_true", help="measure nothing; use earlier measurements")
    p.add_argument("--calibration-seconds", type=positive_number, default=3.0, metavar="SECONDS",
                   help="training time measured per setup (default: 3)")
    p.add_argument("--totals", action="store_true",
                   help="without the table of jobs: what `make study` prints at its start")
    return parser


def seed_number(text: str) -> int:
    """--seed: a whole number from 0 to MAX_SEED (the schema's bound on `seeds`)."""
    if not text.isdigit() or len(text) > 10 or int(text) > MAX_SEED:
        raise argparse.ArgumentTypeError(f"{text[:60]!r} is not a seed; allowed: a whole number "
                                         f"from 0 to {MAX_SEED}, e.g. --seed 1")
    return int(text)


def positive_number(text: str) -> float:
    """--budget, --calibration-seconds: a number > 0."""
    try:
        number = float(text)
    except ValueError:
        number = 0.0
    if not 0 < number < float("inf"):
        raise argparse.ArgumentTypeError(f"{text[:60]!r} is not a number > 0, e.g. 2.5")
    return number


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except CnnlabError as err:
        print(f"cnnlab: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cnnlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`cnnlab list | head`): nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's flush at exit
        return 141
    except Exception as err:
        message = describe_os_error(err) if isinstance(err, OSError) else None
        if message is not None:  # file-system trouble: the user's to fix
            print(f"cnnlab: error: {message}", file=sys.stderr)
            return 2
        print("cnnlab: internal error (a bug, not your input); please report it with this traceback:",
              file=sys.stderr)
        raise


def run(args: argparse.Namespace) -> int:
    from cnnlab import config

    COMMANDS[args.command](args, config.load_params(args.params))
    return 0


def list_command(args: argparse.Namespace, params: dict) -> None:
    print_catalog(params)


def fetch_command(args: argparse.Namespace, params: dict) -> None:
    from cnnlab import config

    root = args.root or Path(params["data"]["root"])
    dataset_info(args.dataset)  # refuses an unknown name, before anything is made for it
    left = config.left_out_datasets(params) if args.skip_left_out else {}
    if args.dataset in left:
        from cnnlab.pipeline import left_out

        print(left_out.skip("fetch", args.dataset, args.dataset, root / args.dataset, left[args.dataset]))
        return
    from cnnlab.data.fetch import fetch

    record = fetch(args.dataset, root, mirror=mirror_folder(params, args.mirror),
                   verify=params["data"]["verify"] and not args.no_verify)
    print(f"{args.dataset}: from {record['source']} (verified: {str(record['verified']).lower()})")


def report_command(args: argparse.Namespace, params: dict) -> None:
    from cnnlab.reporting.report import build_report

    print(build_report(params, args.results))


def plan_command(args: argparse.Namespace, params: dict) -> None:
    from cnnlab.pipeline.plan import plan

    print(plan(params, args.params, args.overrides, args.threads, args.budget, not args.no_calibrate,
               args.calibration_seconds, table=not args.totals))


def train_command(args: argparse.Namespace, params: dict) -> None:
    # Whether a seed's run is current is decided without torch (2 s to import); training imports it,
    # so it is imported only when a seed has work to do.
    from cnnlab.results.kept import training_kept

    for name, run_cfg, folder in seed_runs(args, params, "train"):
        if training_kept(run_cfg, folder):
            print(f"{name} seed {run_cfg['seed']}: already trained with this recipe and code; kept")
            continue
        from cnnlab.training.train import resume_point, train

        # --resume continues each run that has a last.pt; one without it starts afresh
        record = train(run_cfg, folder, resume=args.resume and resume_point(folder) is not None,
                       threads=args.threads)
        print(f"{name} seed {run_cfg['seed']}: trained {count(record['epochs'], 'epoch')} in "
              f"{record['wall_seconds']:.1f} s on {record['device']} ({record['precision']}); "
              f"best epoch {record['best_epoch']}")


def evaluate_command(args: argparse.Namespace, params: dict) -> None:
    from cnnlab.results.kept import evaluation_kept

    for name, run_cfg, folder in seed_runs(args, params, "evaluate"):
        if evaluation_kept(run_cfg, folder):
            print(f"{name} seed {run_cfg['seed']}: already evaluated from this model.pt and code; kept")
            continue
        from cnnlab.training.evaluate import evaluate

        metrics = evaluate(run_cfg, folder, threads=args.threads)
        chosen = "on validation" if metrics["val_acc"] is not None else "the last; no validation split"
        print(f"{name} seed {run_cfg['seed']}: test accuracy {metrics['test_acc']:.4f} (epoch "
              f"{metrics['best_epoch']}, chosen {chosen}); labs' best-on-test "
              f"{metrics['labs_best_test_acc']:.4f}")


def summarize_command(args: argparse.Namespace, params: dict) -> None:
    cfg, out = experiment(args, params, "summarize")
    if cfg is not None:
        from cnnlab.analysis.summary import summarize, summary_line

        print(summary_line(summarize(cfg, out)))


def plot_command(args: argparse.Namespace, params: dict) -> None:
    cfg, out = experiment(args, params, "plot")
    if cfg is not None:
        from cnnlab.reporting.experiment_figures import plot_experiment

        for path in plot_experiment(cfg, out):
            print(path)


def experiment(args: argparse.Namespace, params: dict, command: str) -> tuple[dict | None, Path]:
    """The experiment's settings (None when --skip-left-out left this step empty) and its folder."""
    from cnnlab import config

    cfg = config.experiment_config(params, args.experiment, args.overrides)
    out = args.out or layout.experiment_folder(args.experiment)
    left = config.left_out_datasets(params) if args.skip_left_out else {}
    if cfg["dataset"] in left:
        from cnnlab.pipeline import left_out

        # an experiment whose runs are all evaluated is still summarized and plotted
        if command not in ("summarize", "plot") or not left_out.evaluated(cfg, out):
            print(left_out.skip(command, cfg["name"], cfg["dataset"], out, left[cfg["dataset"]]))
            return None, out
    return cfg, out


def seed_runs(args: argparse.Namespace, params: dict, command: str) -> list[tuple[str, dict, Path]]:
    """(experiment, a run's settings, its folder) for --seed or each of the experiment's seeds."""
    from cnnlab import config

    cfg, out = experiment(args, params, command)
    if cfg is None:
        return []
    seeds = [args.seed] if args.seed is not None else cfg["seeds"]
    return [(cfg["name"], config.run_config(cfg, seed), layout.run_folder(out, seed)) for seed in seeds]


COMMANDS = {"list": list_command, "fetch": fetch_command, "train": train_command,
            "evaluate": evaluate_command, "summarize": summarize_command, "plot": plot_command,
            "report": report_command, "plan": plan_command}


def print_catalog(params: dict) -> None:
    """One experiment a line: name, STUDY.md number, dataset, model, and whether the study leaves it
    out; then each dataset left out, and why."""
    from cnnlab import config

    numbers, left = params.get("study_numbers", {}), config.left_out_datasets(params)
    width = max(len(name) for name in ["experiment", *params["experiments"]])
    print(f"{'experiment':{width}s} {'STUDY.md':8s} {'dataset':14s} model")
    for name, spec in params["experiments"].items():
        mark = "  (left out)" if spec["dataset"] in left else ""
        print(f"{name:{width}s} {numbers.get(name, '-'):8s} {spec['dataset']:14s} {spec['model']}{mark}")
    for dataset, why in left.items():
        print(f"left out: {dataset}: {why}")
