"""Build an offline workshop bundle: every asset the course needs, in one folder, verified.

    python -m helpers.bundle /media/usb/going-deeper-assets --backbone inception_v3 --backbone mobilenet_v2

Hand the folder out on USB sticks; attendees set ``GOING_DEEPER_ASSETS`` to it and
the course runs with no network, checking each file it reads against the bundle's
manifest. Re-running the command only fetches what is missing or damaged and
re-verifies everything.

Use bundles only from people you trust: a bundle's TF Hub module (notebook 4) is a program,
a TensorFlow graph that runs when it is loaded, not just numbers. The manifest proves a file
was not damaged since the bundle was built, not who built it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from unittest import mock

from . import assets, backbones, datasets, files, hub

__all__ = ["SHARED_PREFIXES", "build_bundle", "bundle_paths", "format_table", "main", "refuse_links"]

SHARED_PREFIXES = ("images/", "keras/datasets/", backbones.CLASS_INDEX)


def bundle_paths(backbone_names) -> list[str]:
    """Asset paths for the photos, MNIST, the class index and the chosen backbones' weights."""
    chosen = [backbones.get_backbone(name) for name in backbone_names]
    weights = {path for b in chosen for path in (b.weights, b.weights_no_top)}
    return [p for p in assets.registry() if p.startswith(SHARED_PREFIXES) or p in weights]


def build_bundle(folder: str | Path, backbone_names, progress: bool = True, tfhub: bool = True,
                 dataset_names=()) -> list[dict]:
    """Download (or reuse) every bundle asset into ``folder``, verify each one, and write its manifest.

    A file already in the folder is kept only if it matches its published hash, or else
    the folder's manifest and a check of its content (weights open as HDF5); otherwise
    it is fetched again. With ``tfhub``, each backbone's TF Hub module (notebook 4) goes
    into ``folder/tfhub_modules`` too, checked to be a complete SavedModel. The manifest
    (``bundle-manifest.tsv``: size and sha256 of every file) lets the course check each
    file it reads from the bundle. Returns one row per asset: path, size in bytes and how
    it was verified. Each of ``dataset_names`` (e.g. ``"hymenoptera_data"``, notebook 5) goes into
    ``folder/datasets/<name>`` extracted, every file checked against the course's sha256 list.
    """
    folder = Path(folder).expanduser().resolve()
    rows, listed = [], []
    # The bundle *is* a cache with the offline layout: fetch into it, ignoring any offline
    # folder already set (patch.dict restores the environment afterwards).
    with mock.patch.dict(os.environ, {assets.CACHE_ENV: str(folder)}):
        os.environ.pop(assets.OFFLINE_ENV, None)
        for path in bundle_paths(backbone_names):
            local = assets.fetch(path, progress=progress)
            known = assets.registry()[path].known_hash
            rows.append({"path": path, "bytes": local.stat().st_size,
                         "verified": known.split(":")[0] if known else "content checked"})
            listed.append(path)
        for name in backbone_names if tfhub else []:
            tfhub_handle = backbones.get_backbone(name).tfhub_handle  # each backbone's own module
            module = Path(hub.resolve_module(module_handle=tfhub_handle))
            module_files = [f.relative_to(folder).as_posix() for f in module.rglob("*") if f.is_file() or f.is_symlink()]
            rows.append({"path": f"TF Hub: {tfhub_handle}",
                         "bytes": sum((folder / f).stat().st_size for f in module_files),
                         "verified": "complete SavedModel"})
            listed += module_files
        for name in dataset_names:
            extracted = datasets.fetch_dataset(name, progress=progress)  # checked file by file
            dataset_files = sorted(f.relative_to(folder).as_posix() for f in extracted.rglob("*") if f.is_file())
            rows.append({"path": f"dataset: {name}", "bytes": sum((folder / f).stat().st_size for f in dataset_files),
                         "verified": "sha256 of every file"})
            listed += dataset_files
    # Files of an earlier run for other backbones stay listed while they still match.
    listed += [p for p in assets.read_manifest(folder) if p not in listed and not assets.manifest_mismatches(folder, p)]
    refuse_links(folder, listed)
    for path in listed:
        os.chmod(folder / path, files.FILE_MODE)  # readable by every learner, whoever built it
    assets.write_manifest(folder, listed)
    return rows


def refuse_links(folder: Path, paths) -> None:
    """Raise an AssetError if any of ``paths`` is, or lies under, a symbolic link inside ``folder``.

    Making a bundle's files readable by everyone would follow a link: a link planted in the
    folder (to a private key, say) would make that file readable, list it in the manifest and
    hand it out on every USB stick. A bundle holds real files only.
    """
    links = sorted({str(folder / Path(*Path(p).parts[:i])) for p in paths
                    for i in range(1, len(Path(p).parts) + 1) if (folder / Path(*Path(p).parts[:i])).is_symlink()})
    if links:
        raise assets.AssetError(
            f"{links[0]}: a symbolic link in the bundle folder{f' (and {len(links) - 1} more)' if links[1:] else ''}. "
            f"A bundle holds real files only: a link may point at a private file outside it, which the bundle "
            f"would make readable and hand out. Nothing was changed: delete the link (or put a copy of the "
            f"file in its place) and run the command again.")


def format_table(rows: list[dict]) -> str:
    width = max(len(r["path"]) for r in rows)
    lines = [f"{'asset':<{width}}  {'size':>10}  verified", "-" * (width + 24)]
    lines += [f"{r['path']:<{width}}  {r['bytes'] / 1e6:>8.2f} MB  {r['verified']}" for r in rows]
    lines.append(f"{len(rows)} files, {sum(r['bytes'] for r in rows) / 1e6:.1f} MB in all")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Build an offline asset folder for a workshop.")
    parser.add_argument("folder", help="where to put the bundle (created if needed)")
    parser.add_argument("--backbone", action="append", type=lambda name: backbones.get_backbone(name).name,
                        help=f"backbone(s) to include: {', '.join(sorted(backbones.BACKBONES))} "
                             f"(repeatable; default: all)")
    parser.add_argument("--no-tfhub", action="store_true", help="leave out the TF Hub modules (notebook 4)")
    parser.add_argument("--no-datasets", action="store_true", help="leave out ants vs bees (notebook 5, 46 MB)")
    args = parser.parse_args(argv)
    rows = build_bundle(args.folder, args.backbone or sorted(backbones.BACKBONES), tfhub=not args.no_tfhub,
                        dataset_names=() if args.no_datasets else sorted(datasets.DATASETS))
    print(format_table(rows))
    print(f"\nUse it with:  export {assets.OFFLINE_ENV}={Path(args.folder).expanduser().resolve()}")


if __name__ == "__main__":
    main()
