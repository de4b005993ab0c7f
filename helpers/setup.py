"""The first cell of every notebook: quiet TensorFlow, seed everything, check versions.

>>> from helpers.setup import setup_notebook
>>> setup_notebook()
Python 3.11.7 | TensorFlow 2.21.0 | Keras 3.15.1 | backbone: MobileNetV2 | CPU only | offline assets: ...
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings

from packaging.version import Version

__all__ = ["IN_COLAB", "MIN_VERSIONS", "available_memory_gib", "import_tensorflow_quietly", "memory_problem",
           "other_kernels", "setup_notebook", "version_problems"]

MIN_VERSIONS = {"python": (3, 10), "tensorflow": (2, 19), "keras": (3, 10)}
IN_COLAB = "google.colab" in sys.modules


@contextlib.contextmanager
def _silence_stderr_fd():
    """Silence the C++ start-up lines TensorFlow writes to stderr before its logging is set up.

    They are printed below Python (file descriptor 2), so TF_CPP_MIN_LOG_LEVEL
    cannot reach them; Python exceptions are unaffected.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def import_tensorflow_quietly():
    """Import TensorFlow with its start-up log lines and info/warning logs turned off."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # C++ logs: errors only
    with _silence_stderr_fd():
        import tensorflow as tf

        tf.config.list_physical_devices()  # probes CUDA now, while stderr is still silenced
    tf.get_logger().setLevel(logging.ERROR)
    # Pillow and Keras emit no warnings we want learners to chase; TF's Python
    # deprecation notices are for library authors.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="tensorflow")
    return tf


def version_problems(versions: dict[str, str]) -> list[str]:
    """One actionable line per package older than the course needs."""
    return [
        f"{name} {versions[name]} is older than {'.'.join(map(str, minimum))}: "
        f"run  pip install -r requirements.txt  (or use the Colab / Binder links in the README)."
        for name, minimum in MIN_VERSIONS.items()
        if Version(versions[name]).release[:2] < minimum  # 2.21.0rc1, 2.22.0.dev2026 compare as 2.21, 2.22
    ]


# cgroup v2, then v1: the memory limit of the container the kernel runs in (Binder, Docker)
CGROUP_LIMIT_FILES = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def available_memory_gib() -> float:
    """The memory this kernel may use: its container's limit, or the machine's memory if lower."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limits = [physical]
    for path in CGROUP_LIMIT_FILES:
        try:
            with open(path) as f:
                value = f.read().strip()
        except OSError:
            continue
        if value.isdigit():  # "max" (v2) means no limit; v1 writes a huge number instead
            limits.append(int(value))
    return min(limits) / 2**30


def other_kernels() -> list[tuple[str, float]]:
    """``(notebook, GiB held)`` for every other Jupyter kernel of this user on this machine, largest first.

    JupyterLab keeps a notebook's kernel running after its tab is closed, so on Binder, where all
    of a session's kernels share its 2 GB, the notebooks already done still hold 0.6-0.7 GiB each.
    The notebook's name comes from ``JPY_SESSION_NAME``, which Jupyter Server gives each kernel.
    """
    import psutil

    me, user, kernels = os.getpid(), psutil.Process().username(), []
    for process in psutil.process_iter(["pid", "username", "cmdline", "memory_info"]):
        info = process.info
        if (info["pid"] == me or info["username"] != user or info["memory_info"] is None
                or not any(part.endswith("kernel_launcher") for part in info["cmdline"] or [])):
            continue  # ipykernel_launcher: JupyterLab, Notebook, VS Code, nbval
        try:
            name = os.path.basename(process.environ().get("JPY_SESSION_NAME", ""))
        except psutil.Error:
            name = ""
        kernels.append((name or f"a kernel (process {info['pid']})", info["memory_info"].rss / 2**30))
    return sorted(kernels, key=lambda kernel: -kernel[1])


def memory_problem(backbone, available_gib: float, others: list[tuple[str, float]] = ()) -> str | None:
    """One actionable line when the selected backbone needs more memory than the kernel has.

    ``others`` (from :func:`other_kernels`) hold part of ``available_gib``: when freeing them would
    be enough, the line names them instead of asking for a smaller backbone.
    """
    held = sum(gib for _, gib in others)
    if available_gib - held >= backbone.memory_gib:
        return None
    if available_gib >= backbone.memory_gib:
        names = ", ".join(f"{name} {gib:.1f} GiB" for name, gib in others)
        return (f"the course needs up to {backbone.memory_gib:g} GiB with {backbone.title}; this kernel has "
                f"{available_gib:.1f} GiB, but other kernels still hold {held:.1f} GiB of it ({names}): shut "
                f"them down (JupyterLab: the Running panel in the left bar) and run this cell again.")
    return (f"the course needs up to {backbone.memory_gib:g} GiB with {backbone.title}, but this kernel has "
            f"{available_gib:.1f} GiB: run  %env GOING_DEEPER_BACKBONE=mobilenet_v2  and run this cell again.")


def setup_notebook(seed: int = 42) -> None:
    """Quiet TF, seed Python/NumPy/TF, and print one status line (plus any problem found)."""
    tf = import_tensorflow_quietly()
    import keras

    from . import backbones, environment

    keras.utils.set_random_seed(seed)  # Python, NumPy and TensorFlow in one call
    versions = {
        "python": ".".join(map(str, sys.version_info[:3])),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }
    gpus = tf.config.list_physical_devices("GPU")
    offline = os.environ.get(environment.OFFLINE_ENV) or "none (downloads to cache)"
    print(
        f"Python {versions['python']} | TensorFlow {versions['tensorflow']} | Keras {versions['keras']}"
        f" | backbone: {backbones.get_backbone().title}"
        f" | {f'{len(gpus)} GPU(s)' if gpus else 'CPU only'}{' | Colab' if IN_COLAB else ''}"
        f" | offline assets: {offline}"
    )
    memory = memory_problem(backbones.get_backbone(), available_memory_gib(), other_kernels())
    problems = version_problems(versions) + [memory]
    for problem in filter(None, problems):
        print("WARNING:", problem)
