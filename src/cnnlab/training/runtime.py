"""Where and how a run executes: device, precision, threads, seeds, determinism, versions, machine."""

import contextlib
import os
import platform
import random
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from cnnlab.errors import CnnlabError


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise CnnlabError("device: cuda was asked for but no CUDA GPU is visible; use device=auto or cpu")
    return torch.device(name)


CPUINFO = "/proc/cpuinfo"
# The CPU flags that decide how fast a model trains (vector width, native bf16/fp16/int8 units);
# asimd, sve and bf16 are ARM's names.
SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16",
               "amx_int8", "asimd", "sve", "bf16")


def cpuinfo_fields(cpuinfo: str = CPUINFO) -> dict[str, str]:
    """The first processor's `key: value` lines of /proc/cpuinfo; {} where there is none (not Linux)."""
    try:
        with open(cpuinfo) as f:
            first_processor = f.read().split("\n\n")[0]
    except OSError:
        return {}
    fields = {}
    for line in first_processor.splitlines():
        key, colon, value = line.partition(":")
        if colon:
            fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_flags(cpuinfo: str = CPUINFO) -> set[str]:
    fields = cpuinfo_fields(cpuinfo)
    return set((fields.get("flags") or fields.get("Features") or "").split())  # x86 or ARM


def cpu_has_bf16(cpuinfo: str = CPUINFO) -> bool:
    """AVX-512 BF16 or AMX: the CPU multiplies bf16 natively, so autocast pays off.

    Without them bf16 is emulated and far slower than fp32 (on this project's AVX2-only CPU: a
    matmul at ~1 GFLOP/s against ~166 in fp32; LeNet-5 trains 7x slower; docs/performance.md).
    """
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags(cpuinfo))


def cpu_bf16_is_faster(cpuinfo: str = CPUINFO) -> bool:
    """AMX (bf16 matrix tiles): there bf16 autocast pays off. AVX-512 BF16 alone does not: on this
    project's Xeon with it and no AMX, a bf16 matmul ran at 165 GFLOP/s against 311 in fp32, and
    every model trained at 0.6-0.9x its fp32 speed (docs/performance.md, "Precision")."""
    return "amx_bf16" in cpu_flags(cpuinfo)


def cpu_model(cpuinfo: str = CPUINFO) -> str | None:
    """The CPU's name as Linux gives it, else what Python's platform module knows (macOS, Windows)."""
    fields = cpuinfo_fields(cpuinfo)
    return fields.get("model name") or fields.get("Hardware") or platform.processor() or None


def load_average() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages (processes running or waiting for a CPU); None on Windows."""
    try:
        return [round(load, 2) for load in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def code_commit(folder: Path) -> dict:
    """The git commit checked out where `folder` lies, and whether `folder` differs from it
    (uncommitted or untracked files); both None outside a git checkout or without git."""
    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=30)

    try:
        head, status = git("rev-parse", "HEAD"), git("status", "--porcelain", "--", ".")
    except (OSError, subprocess.SubprocessError):  # no git, or git hangs
        return {"commit": None, "dirty": None}
    if head.returncode or status.returncode:
        return {"commit": None, "dirty": None}
    return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip())}


def machine(cpuinfo: str = CPUINFO) -> dict:
    """What a run's times depend on besides its recipe, taken as it starts: the code's commit, the
    CPU, its flags and cores, the load average and OpenMP's wait policy (None: unset, libgomp's
    threads spin before they sleep) (train.json's `machine`; no torch needed)."""
    flags = cpu_flags(cpuinfo)
    return {**code_commit(Path(__file__).parent), "cpu": cpu_model(cpuinfo),
            "cpu_flags": [f for f in SPEED_FLAGS if f in flags], "cores": os.cpu_count(),
            "load_average_start": load_average(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}


def pick_precision(name: str, device: torch.device) -> str:
    """`precision:` for `device`: `choose_precision` with what the hardware can do, asked only for auto."""
    return choose_precision(name, device.type, name == "auto" and bf16_is_fast(device))


def bf16_is_fast(device: torch.device) -> bool:
    """bf16 runs natively and faster than fp32: a CUDA GPU of compute capability 8 or more (without
    `including_emulation=False` torch also says yes on older GPUs, which only emulate bf16), or a
    CPU with AMX. Asking a GPU initialises CUDA."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    return cpu_bf16_is_faster()


def choose_precision(name: str, device_type: str, bf16_fast: bool) -> str:
    """auto: bf16 where the hardware makes it faster (`bf16_fast`), fp16 (with a gradient scaler) on
    older GPUs, else fp32. An explicit precision is kept; fp16 needs CUDA."""
    if name != "auto":
        if name == "fp16" and device_type != "cuda":
            raise CnnlabError("precision: fp16 needs a CUDA GPU; on the CPU use bf16 or fp32")
        return name
    if bf16_fast:
        return "bf16"
    return "fp16" if device_type == "cuda" else "fp32"


def autocast(device: torch.device, precision: str):
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


def set_threads(threads: int | None) -> None:
    """Use the job's thread count (Snakemake's `threads:`); None keeps torch's default."""
    if threads:
        torch.set_num_threads(threads)


CUBLAS_DETERMINISTIC = (":4096:8", ":16:8")  # the workspace settings with which cuBLAS is deterministic


def cublas_workspace_config(deterministic: bool, current: str | None) -> str | None:
    """The CUBLAS_WORKSPACE_CONFIG a run needs: in deterministic mode one of cuBLAS's deterministic
    settings (torch refuses CUDA matmuls without one), a user's own kept; else what is set."""
    if deterministic and current not in CUBLAS_DETERMINISTIC:
        return CUBLAS_DETERMINISTIC[0]
    return current


def set_determinism(deterministic: bool) -> None:
    """Deterministic algorithms, or cuDNN's autotuning when results may vary. Call it before anything
    touches CUDA: cuBLAS reads CUBLAS_WORKSPACE_CONFIG when it starts."""
    workspace = cublas_workspace_config(deterministic, os.environ.get("CUBLAS_WORKSPACE_CONFIG"))
    if workspace is not None:
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = workspace
    torch.use_deterministic_algorithms(deterministic, warn_only=False)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic  # autotuned algorithms may differ run to run


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_states() -> dict:
    """Every generator's state as tensors and plain values: a checkpoint holding them loads with
    `torch.load(..., weights_only=True)`, which refuses Python and NumPy objects."""
    version, python_words, gauss = random.getstate()
    kind, numpy_words, position, has_gauss, cached = np.random.get_state()
    states = {"python": [version, torch.tensor(python_words, dtype=torch.int64), gauss],
              "numpy": [kind, torch.from_numpy(numpy_words.astype(np.int64)), position, has_gauss, cached],
              "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict) -> None:
    """Put back what `rng_states` saved (the CUDA states only where CUDA is visible)."""
    version, python_words, gauss = states["python"]
    random.setstate((version, tuple(python_words.tolist()), gauss))
    kind, numpy_words, position, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, numpy_words.numpy().astype(np.uint32), position, has_gauss, cached))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def versions() -> dict:
    import torchvision

    import cnnlab

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "cnnlab": cnnlab.__version__,
        "platform": platform.platform(),
    }


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> float:
    """CUDA: peak allocated by tensors; CPU: the process's peak resident set.

    On Linux from VmHWM: `ru_maxrss` survives `execve`, so a process started by a big one (pytest,
    a benchmark) would report its parent's peak.
    """
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration, ValueError, IndexError):
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return kb / 1024 if sys.platform != "darwin" else kb / 2**20
