"""A real single-node SLURM cluster for tests, from Debian's packages, in a temporary folder.

    with slurm_cluster(tmp_path / "slurm") as env:   # env: os.environ plus SLURM_CONF
        subprocess.run(["sbatch", "--wrap", "true"], env=env)

It starts munged (authentication), MariaDB and slurmdbd (accounting: `sacct` reads it), slurmctld
and slurmd for this host, on free loopback ports and with their files in the folder (except two
places SLURM's commands look by themselves: munged's socket /run/munge/, and slurmd's link
/run/slurm/conf, removed afterwards), and stops them afterwards. No systemd and no cgroups:
proctrack/linuxproc and task/none. The node has one GPU that is only a name (gres `gpu` on
/dev/null), so that SLURM can allocate and account for `--gpus` on a machine without one.
Needs root (the daemons run as root) and
`apt-get install slurm-wlm slurmdbd munge mariadb-server`.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

CLUSTER = "cnnlab"
PARTITION = "main"
NODE_MEMORY_MB = 16000  # what the node offers jobs: two training jobs of the slurm profile
CONFIG_LINK = Path("/run/slurm/conf")  # slurmd's link to its configuration, for commands on the node
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")  # munged's default, where slurmd looks first
DAEMONS = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def missing_programs() -> list[str]:
    programs = (*DAEMONS, "mariadb-install-db", "munge", "mungekey", "sbatch", "sacct", "sacctmgr")
    return [name for name in programs if shutil.which(name) is None and not Path("/usr/sbin", name).exists()]


def wait_until(ready, what: str, logs: list[Path], seconds: float = 60) -> None:
    """Poll `ready()` until it is true; fail with the daemons' logs after `seconds`."""
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {log}:\n{log.read_text()[-2000:]}" for log in logs if log.exists())
            raise RuntimeError(f"the test cluster: {what} did not come up in {seconds} s\n{tails}")
        time.sleep(0.3)


def succeeds(command: list[str], env: dict) -> bool:
    return subprocess.run(command, env=env, capture_output=True).returncode == 0


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def write_configs(folder: Path, ports: dict) -> Path:
    """slurm.conf, gres.conf and slurmdbd.conf for this host; returns slurm.conf's path."""
    host = socket.gethostname().split(".")[0]
    auth = "AuthType=auth/munge\n"  # through MUNGE_SOCKET
    (folder / "slurm.conf").write_text(
        f"ClusterName={CLUSTER}\nSlurmctldHost={host}(127.0.0.1)\n"
        f"SlurmctldPort={ports['slurmctld']}\nSlurmdPort={ports['slurmd']}\n"
        f"SlurmUser=root\nSlurmdUser=root\n{auth}CredType=cred/munge\n"
        f"StateSaveLocation={folder}/state\nSlurmdSpoolDir={folder}/spool\n"
        f"SlurmctldPidFile={folder}/slurmctld.pid\nSlurmdPidFile={folder}/slurmd.pid\n"
        f"SlurmctldLogFile={folder}/slurmctld.log\nSlurmdLogFile={folder}/slurmd.log\n"
        "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\nJobAcctGatherType=jobacct_gather/none\n"
        "SelectType=select/cons_tres\nSelectTypeParameters=CR_Core_Memory\nMpiDefault=none\n"
        "ReturnToService=2\nSchedulerType=sched/backfill\nGresTypes=gpu\n"
        "SlurmctldParameters=enable_configless\n"
        "AccountingStorageType=accounting_storage/slurmdbd\nAccountingStorageHost=127.0.0.1\n"
        f"AccountingStoragePort={ports['slurmdbd']}\nAccountingStorageTRES=gres/gpu\n"
        "AccountingStoreFlags=job_comment\n"  # the plugin's comment names each job's rule
        f"NodeName={host} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} RealMemory={NODE_MEMORY_MB}"
        " Gres=gpu:1 State=UNKNOWN\n"
        f"PartitionName={PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n")
    (folder / "gres.conf").write_text(f"NodeName={host} Name=gpu File=/dev/null\n")
    dbd_conf = folder / "slurmdbd.conf"
    dbd_conf.write_text(
        f"{auth}DbdHost=localhost\nDbdAddr=127.0.0.1\nDbdPort={ports['slurmdbd']}\nSlurmUser=root\n"
        f"PidFile={folder}/slurmdbd.pid\nLogFile={folder}/slurmdbd.log\n"
        "StorageType=accounting_storage/mysql\nStorageHost=127.0.0.1\n"
        f"StoragePort={ports['mariadb']}\nStorageUser=root\nStorageLoc=slurm_acct_db\n")
    dbd_conf.chmod(0o600)  # slurmdbd refuses a config that others can read
    return folder / "slurm.conf"


@contextlib.contextmanager
def slurm_cluster(folder: Path):
    """Start the cluster in `folder`; yields the environment in which SLURM's commands reach it."""
    folder = Path(folder)
    for sub in ("state", "spool", "mariadb", "munge"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    ports = {name: free_port() for name in ("slurmctld", "slurmd", "slurmdbd", "mariadb")}
    env = dict(os.environ, SLURM_CONF=str(write_configs(folder, ports)))
    env["PATH"] = f"{env.get('PATH', '')}{os.pathsep}/usr/sbin"
    logs = [folder / f"{name}.log" for name in DAEMONS]
    started: list[subprocess.Popen] = []

    def start(command: list[str], name: str) -> None:
        with open(folder / f"{name}.out", "wb") as log:  # the process keeps its own copy open
            started.append(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT))

    try:
        if not succeeds(["munge", "--no-input"], env):  # else the machine's own munged serves
            key = folder / "munge" / "munge.key"
            MUNGE_SOCKET.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["mungekey", "--create", f"--keyfile={key}"], check=True, env=env)
            start(["munged", "--foreground", "--force", f"--socket={MUNGE_SOCKET}", f"--key-file={key}",
                   f"--log-file={folder}/munged.log", f"--pid-file={folder}/munge/munged.pid",
                   f"--seed-file={folder}/munge/munged.seed"], "munged")
            wait_until(lambda: succeeds(["munge", "--no-input"], env), "munged", logs)

        database = folder / "mariadb"
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={database}", "--user=root",
                        "--skip-test-db"], check=True, env=env, capture_output=True)
        start(["mariadbd", "--no-defaults", f"--datadir={database}", "--user=root",
               f"--port={ports['mariadb']}", "--bind-address=127.0.0.1", f"--socket={database}/sock",
               f"--pid-file={database}/pid", f"--log-error={folder}/mariadbd.log",
               "--skip-grant-tables", "--skip-log-bin"], "mariadbd")
        wait_until(lambda: port_open(ports["mariadb"]), "MariaDB", logs)

        start(["slurmdbd", "-D"], "slurmdbd")
        wait_until(lambda: succeeds(["sacctmgr", "-n", "list", "cluster"], env), "slurmdbd", logs)
        subprocess.run(["sacctmgr", "-i", "add", "cluster", CLUSTER], check=True, env=env,
                       capture_output=True)

        start(["slurmctld", "-D", "-i"], "slurmctld")
        # Configless: slurmd takes the configuration from slurmctld, and the commands that a job runs
        # find it through slurmd (/run/slurm/conf), as the SLURM plugin's job steps drop SLURM_CONF.
        start(["slurmd", "-D", "--conf-server", f"127.0.0.1:{ports['slurmctld']}"], "slurmd")
        wait_until(lambda: subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True,
                                          text=True).stdout.strip() == "idle", "slurmd (node idle)", logs)
        yield env
    finally:
        for process in reversed(started):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        # Left behind, the link would lead SLURM's commands here to a cluster that has stopped.
        if CONFIG_LINK.is_symlink() and folder.resolve() in CONFIG_LINK.resolve().parents:
            CONFIG_LINK.unlink()
