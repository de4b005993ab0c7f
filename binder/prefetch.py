"""Download what a Binder session uses while Binder builds the image, so a session starts with it all.

    python binder/prefetch.py BACKBONE      # run by binder/postBuild

The weights of ``BACKBONE``, the class index, MNIST and every photo go into the course's cache
(verified, as ``helpers.assets.fetch`` always does), then notebook 4's TF Hub module. Each
download is retried with growing pauses, since a single hiccup among some 40 downloads must not
fail the image for everyone until the next rebuild. A file that still cannot be had does not
fail the build either: the session downloads it when a notebook first needs it, and the build
log says which files those are.
"""

from __future__ import annotations

import argparse
import time

from helpers import assets, bundle, datasets, hub

# Seconds to wait before each retry: a dropped connection or a 503 passes within a minute;
# a real outage is not waited out (Binder's build has a time limit too).
RETRY_DELAYS = (5, 20, 60)


def with_retries(download, what: str, delays=RETRY_DELAYS, sleep=None):
    """Call ``download()`` until it works, pausing ``delays[i]`` seconds before retry ``i``; re-raise the last error."""
    sleep = sleep or time.sleep
    for delay in (*delays, None):
        try:
            return download()
        except Exception as error:  # noqa: BLE001 -- network, HTTP and hash errors all deserve a retry
            if delay is None:
                raise
            print(f"{what}: {str(error).splitlines()[0]} (retrying in {delay} s)", flush=True)
            sleep(delay)


def prefetch(backbone: str, fetch=None, resolve_module=None, delays=RETRY_DELAYS, sleep=None,
             fetch_dataset=None) -> list[str]:
    """Download everything a session on ``backbone`` uses into the cache; return what could not be had.

    ``fetch`` (one asset path) and ``resolve_module`` (the backbone's TF Hub module) default to the
    course's own, ``helpers.assets.fetch`` and ``helpers.hub.resolve_module``; tests pass failing ones.
    """
    fetch, resolve_module = fetch or assets.fetch, resolve_module or hub.resolve_module
    fetch_dataset = fetch_dataset or datasets.fetch_dataset
    missing = []
    downloads = [(path, lambda path=path: fetch(path, progress=False)) for path in bundle.bundle_paths([backbone])]
    downloads.append((f"TF Hub module for {backbone}", lambda: resolve_module(backbone)))
    downloads += [(f"dataset {name} (notebook 5)", lambda name=name: fetch_dataset(name, progress=False))
                  for name in datasets.DATASETS]
    for what, download in downloads:
        try:
            with_retries(download, what, delays, sleep)
        except Exception as error:  # noqa: BLE001 -- the build goes on; the session fetches it later
            print(f"{what}: gave up after {len(delays) + 1} attempts: {str(error).splitlines()[0]}", flush=True)
            missing.append(what)
    return missing


def report(missing: list[str], total: int) -> str:
    """The build log's last word: all there, or which files each session will download on first use."""
    if not missing:
        return f"All {total} downloads a session uses are in the image."
    photos = [m for m in missing if m.startswith("images/")]
    others = [m for m in missing if not m.startswith("images/")]
    lines = [f"WARNING: {len(missing)} of {total} downloads failed even after retries; the image is built "
             f"without them, and each session downloads them when a notebook first needs them:"]
    if photos:
        lines.append(f"  photos ({len(photos)}): " + ", ".join(photos))
    if others:
        lines.append("  other files: " + ", ".join(others))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("backbone", help="the backbone binder/start selects")
    backbone = parser.parse_args(argv).backbone
    missing = prefetch(backbone)
    print(report(missing, len(bundle.bundle_paths([backbone])) + 1 + len(datasets.DATASETS)))
    return 0  # never fail the build for a download: the session can still fetch it


if __name__ == "__main__":
    raise SystemExit(main())
