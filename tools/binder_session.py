"""A learner's whole Binder session, replayed: notebooks opened one after another, tabs left open.

    python tools/binder_session.py --limit-gib 2 --idle-timeout 5 01 02 03 04

runs each notebook top to bottom in a kernel that Jupyter Server's own kernel manager starts
(``AsyncMappingKernelManager``, configured by ``binder/jupyter_server_config.py``, as on Binder),
marks each kernel as having an open tab (a connection, which ``cull_connected`` decides about), and
leaves it running when the notebook is done, as JupyterLab does. Between two notebooks the learner
"reads": the culling timeout of the Binder configuration, scaled from minutes down to
``--idle-timeout`` seconds, goes by, and Jupyter Server's own culler gets a few seconds to shut
finished kernels down. Without culling in that configuration, every kernel stays.

With ``--limit-gib`` (Linux, root, cgroup v1 memory controller) this process and its kernels run
in a memory cgroup with that limit, like a Binder container (which also holds the Jupyter server;
this process stands in for it). A kernel the limit kills shows as ``DeadKernelError``.

Kernels start with the course's environment, and their peak memory is read, by
``tools/notebook_runner.py``; ``--save DIR`` writes each executed notebook there. Prints one
``SESSION_REPORT`` JSON line; for each notebook: its kernel's peak (VmHWM), how many
kernels were alive, the session's peak while it ran (:func:`session_memory_gib`; and the cgroup's
usage), what its kernel held afterwards (USS) and at each later notebook's start (or ``culled``);
then the cgroup's peak and its OOM kills.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]  # this checkout's helpers, however this script is run
from notebook_runner import kernel_env, notebook_client, peak_gib  # noqa: E402  (this folder: the one notebook runner)

NOTEBOOKS = ROOT / "notebooks"
BINDER_CONFIG = ROOT / "binder" / "jupyter_server_config.py"
CGROUP_V1 = Path("/sys/fs/cgroup/memory")
GIB = 2**30


def binder_config(idle_timeout: int):
    """Binder's Jupyter Server configuration, its culling timeout scaled to ``idle_timeout`` seconds."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(BINDER_CONFIG.name, str(BINDER_CONFIG.parent)).load_config()
    if config.MappingKernelManager.get("cull_idle_timeout", 0) > 0:  # culling on: minutes become seconds
        config.MappingKernelManager.cull_idle_timeout = idle_timeout
    config.MappingKernelManager.cull_interval = 1
    return config


def enter_memory_cgroup(limit_gib: float) -> Path:
    """A fresh cgroup v1 memory group with ``limit_gib``, holding this process (and so its kernels)."""
    group = CGROUP_V1 / f"going-deeper-binder-{os.getpid()}"
    group.mkdir()
    (group / "memory.limit_in_bytes").write_text(str(int(limit_gib * GIB)))
    (group / "cgroup.procs").write_text(str(os.getpid()))
    return group


def leave_memory_cgroup(group: Path) -> dict:
    """The group's peak usage and OOM kills; this process moves back out and the group is removed."""
    stats = {"cgroup_peak_gib": round(int((group / "memory.max_usage_in_bytes").read_text()) / GIB, 2),
             "cgroup_limit_hits": int((group / "memory.failcnt").read_text())}
    for line in (group / "memory.oom_control").read_text().splitlines():
        if line.startswith("oom_kill "):
            stats["oom_kills"] = int(line.split()[1])
    (CGROUP_V1 / "cgroup.procs").write_text(str(os.getpid()))
    for _ in range(50):  # a killed kernel leaves the group a moment later
        try:
            group.rmdir()
            break
        except OSError:
            time.sleep(0.1)
    return stats


def session_memory_gib(pids: list[int]) -> float:
    """What the processes ``pids`` hold together, each page counted once, as a container's limit counts them.

    Each process's own pages (USS), plus the pages they share (TensorFlow's libraries: resident
    size minus USS) counted once. Summed RSS would count the shared pages once per kernel; summed
    PSS, or a cgroup's usage on a machine where other people's kernels loaded TensorFlow first,
    would leave part of them out.
    """
    import psutil

    own, shared = 0, 0
    for pid in pids:
        try:
            memory = psutil.Process(pid).memory_full_info()
        except psutil.Error:
            continue
        own += memory.uss
        shared = max(shared, memory.rss - memory.uss)
    return (own + shared) / GIB


async def sample_sum(pids: list[int], group: Path | None, peak: dict, stop: asyncio.Event) -> None:
    """Keep ``peak`` at the largest memory seen, every second: this process's and its kernels', the cgroup's."""
    while not stop.is_set():
        peak["session_gib"] = max(peak.get("session_gib", 0), session_memory_gib([os.getpid(), *pids]))
        if group is not None:
            usage = int((group / "memory.usage_in_bytes").read_text()) / GIB
            peak["cgroup_gib"] = max(peak.get("cgroup_gib", 0), usage)
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except asyncio.TimeoutError:
            pass


async def session(paths: list[Path], idle_timeout: int, group: Path | None, save: Path | None = None) -> dict:
    import nbformat
    from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
    from nbclient.exceptions import DeadKernelError

    kernels = AsyncMappingKernelManager(config=binder_config(idle_timeout), root_dir=str(NOTEBOOKS),
                                        connection_dir=tempfile.mkdtemp(prefix="going-deeper-kernels-"))
    kernels.initialize_culler()
    report, pids = {"notebooks": []}, {}
    for index, path in enumerate(paths):
        if index and idle_timeout:  # the learner reads on: finished kernels go idle past the timeout...
            await asyncio.sleep(idle_timeout)
            for _ in range(10 * (idle_timeout + 10)):  # ...and the culler has time to shut them down (a few s)
                if len(kernels.list_kernel_ids()) == 0:
                    break
                await asyncio.sleep(0.1)
        for entry in report["notebooks"]:  # what the earlier notebooks still hold now
            alive = entry["kernel_id"] in kernels.list_kernel_ids()
            entry.setdefault("held_gib_at_next", [])
            entry["held_gib_at_next"].append(round(_own_gib(pids[entry["kernel_id"]]), 2) if alive else "culled")
        kernel_id = await kernels.start_kernel(path=str(NOTEBOOKS), env=kernel_env({"JPY_SESSION_NAME": str(path)}))
        kernels.notify_connect(kernel_id)  # the notebook's tab stays open
        manager = kernels.get_kernel(kernel_id)
        pids[kernel_id] = manager.provisioner.pid
        live = [pids[k] for k in kernels.list_kernel_ids()]
        stop, peaks = asyncio.Event(), {}
        sampler = asyncio.create_task(sample_sum(live, group, peaks, stop))
        entry = {"notebook": path.name, "kernel_id": kernel_id}
        report["notebooks"].append(entry)
        try:
            nb = nbformat.read(path, as_version=4)
            await notebook_client(nb, path, km=manager).async_execute()
            if save is not None:  # the executed notebook, for the caller to read
                nbformat.write(nb, save / path.name)
        except DeadKernelError as error:
            entry["died"] = str(error)[:200]
        finally:
            stop.set()
            await sampler
        entry["kernels_alive"] = len(live)
        entry["peak_gib"] = round(peak_gib(pids[kernel_id]) or float("nan"), 2)
        entry.update({f"sum_peak_{name}": round(value, 2) for name, value in peaks.items()})
        entry["held_gib"] = round(_own_gib(pids[kernel_id]), 2)
        print(json.dumps(entry), file=sys.stderr, flush=True)
        if "died" in entry:
            break
    await kernels.shutdown_all()
    for entry in report["notebooks"]:
        del entry["kernel_id"]
    return report


def _own_gib(pid: int) -> float:
    """What a kernel holds that no other process shares (USS): what shutting it down gives back."""
    import psutil

    try:
        return psutil.Process(pid).memory_full_info().uss / GIB
    except psutil.Error:
        return 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", help="notebook number prefixes, in order: 01 02 03 04")
    parser.add_argument("--idle-timeout", type=int, default=5, help="culling timeout, in seconds (0: no culling)")
    parser.add_argument("--limit-gib", type=float, help="run under a cgroup v1 memory limit (root)")
    parser.add_argument("--save", type=Path, help="a folder to write each executed notebook to")
    args = parser.parse_args(argv)
    paths = [next(NOTEBOOKS.glob(f"{prefix}_*.ipynb")) for prefix in args.notebooks]
    group = enter_memory_cgroup(args.limit_gib) if args.limit_gib else None
    try:
        report = asyncio.run(session(paths, args.idle_timeout, group, args.save))
    finally:
        if group is not None:
            stats = leave_memory_cgroup(group)
    if group is not None:
        report.update(stats, limit_gib=args.limit_gib)
    print("SESSION_REPORT", json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
