"""A real one-node SLURM cluster on this machine, for the cluster test (root, Debian 12,
no systemd). Facts from ../shared/reference/slurm-notes.md: Debian's slurm-wlm and munge,
ProctrackType=proctrack/linuxproc, TaskPlugin=task/none, select/cons_tres, DefMemPerCPU
set so jobs share the node, no accounting database (the executor polls with squeue).

The configuration goes to the default path, /etc/slurm/slurm.conf (any file there is put
back afterwards): inside a job, the executor's job-step plugin calls `srun` with every
SLURM_* variable removed, SLURM_CONF included, so only the default path reaches it.

Every daemon runs in the foreground as a child of this process and is stopped by its PID.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

PACKAGES = ["slurm-wlm", "munge"]


def install() -> None:
    if shutil.which("slurmctld") and shutil.which("munged"):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-q", *PACKAGES], check=True, env=env, capture_output=True)


def _memory_mib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


def write_config(folder: Path) -> Path:
    host = socket.gethostname().split(".")[0]
    cpus = os.cpu_count() or 1
    for name in ("state", "spool"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    conf = folder / "slurm.conf"
    conf.write_text(f"""ClusterName=moltest
SlurmctldHost={host}
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
MinJobAge=300
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
NodeName={host} CPUs={cpus} RealMemory={_memory_mib() - 1024} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")
    return conf


def _munge_key() -> None:
    key = Path("/etc/munge/munge.key")
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        key.write_bytes(os.urandom(1024))
    shutil.chown(key, "munge", "munge")
    key.chmod(0o400)
    for folder in ("/run/munge", "/var/lib/munge", "/var/log/munge"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.chown(folder, "munge", "munge")


def _wait(condition, what: str, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise RuntimeError(f"timed out waiting for {what}")


@contextlib.contextmanager
def slurm_cluster(folder: Path):
    """Start munged, slurmctld and slurmd; yield the environment that points clients at
    the cluster (SLURM_CONF); stop every daemon by PID afterwards."""
    install()
    conf = write_config(folder)
    system_conf = Path("/etc/slurm/slurm.conf")
    previous = system_conf.read_bytes() if system_conf.exists() else None
    env = {**os.environ, "SLURM_CONF": str(system_conf)}
    _munge_key()
    daemons: list[subprocess.Popen] = []
    try:
        system_conf.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(conf, system_conf)
        # setpriv execs munged as the munge user: the PID we hold is munged's own.
        daemons.append(
            subprocess.Popen(
                ["setpriv", "--reuid=munge", "--regid=munge", "--init-groups", "munged", "--foreground", "--force"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )
        )
        _wait(lambda: subprocess.run(["munge", "-n"], capture_output=True).returncode == 0, "munged")
        daemons.append(subprocess.Popen(["slurmctld", "-D", "-i"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
        daemons.append(subprocess.Popen(["slurmd", "-D"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))

        def node_up() -> bool:
            out = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True)
            return out.returncode == 0 and out.stdout.strip() in ("idle", "mixed", "allocated")

        _wait(node_up, "the SLURM node to come up")
        yield env
    finally:
        for daemon in reversed(daemons):
            if daemon.poll() is None:
                os.kill(daemon.pid, 15)
        for daemon in reversed(daemons):
            try:
                daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(daemon.pid, 9)
                daemon.wait()
        if previous is None:
            system_conf.unlink(missing_ok=True)
        else:
            system_conf.write_bytes(previous)
