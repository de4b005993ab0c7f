"""An offline asset folder for the default backbone, Inception V3, with random ("structural") weights.

No real Inception V3 weights can be had on the CI machines, yet Inception V3 is what every
learner runs. Run time, memory, shapes and layer names do not depend on the weight *values*,
so this module writes weight files of the right architecture with Keras's random initial
values, in the exact layout ``keras.applications`` loads (legacy HDF5, with and without the
top), and overlays them on an existing offline folder (``../shared/assets``: photos, MNIST,
class index) without copying it:

    overlay/
    ├── keras/models/inception_v3_weights_tf_dim_ordering_tf_kernels{,_notop}.h5   (written here)
    ├── keras/models/<every other file>  -> symlinks into the base folder
    ├── <every other top-level entry>    -> symlinks into the base folder
    └── tfhub_module/                    the offline TF Hub stand-in, built from the no-top file

    python tools/structural_assets.py OVERLAY [--base ../shared/assets] [--backbone inception_v3]
    GOING_DEEPER_ASSETS=OVERLAY GOING_DEEPER_BACKBONE=inception_v3 \
        GOING_DEEPER_TFHUB_HANDLE=OVERLAY/tfhub_module jupyter lab notebooks/

Predictions made with these weights are meaningless: checks that only real weights can pass
are skipped on them (``tests/test_default_backbone.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BASE = ROOT.parent / "shared" / "assets"
TFHUB_MODULE = "tfhub_module"


def write_legacy_h5_weights(model, path: Path) -> None:
    """Save ``model``'s weights in the legacy HDF5 layout that ``keras.applications`` downloads.

    ``model.save_weights`` only writes the Keras 3 ``.weights.h5`` layout, which
    ``keras.applications`` cannot read; Keras keeps the legacy writer for compatibility.
    """
    import h5py
    from keras.src.legacy.saving.legacy_h5_format import save_weights_to_hdf5_group

    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        save_weights_to_hdf5_group(f, model)


def write_structural_weights(target: Path, backbone_name: str, seed: int = 0) -> list[Path]:
    """Random-weight files for ``backbone_name`` (with and without the top) under ``target``."""
    import keras

    from helpers import backbones

    backbone = backbones.get_backbone(backbone_name)
    keras.utils.set_random_seed(seed)  # the same "structural" weights on every run
    written = []
    for asset_path, include_top in ((backbone.weights, True), (backbone.weights_no_top, False)):
        model = backbone.application(weights=None, include_top=include_top)
        write_legacy_h5_weights(model, target / asset_path)
        written.append(target / asset_path)
        keras.backend.clear_session()
    return written


def link_base_folder(target: Path, base: Path) -> None:
    """Symlink every file of ``base`` that ``target`` does not have yet (folders merge one level deep)."""
    for entry in base.iterdir():
        destination = target / entry.name
        if entry.is_dir() and destination.is_dir():
            link_base_folder(destination, entry)
        elif not destination.exists():
            destination.symlink_to(entry.resolve(), target_is_directory=entry.is_dir())


def build_overlay(target: Path, base: Path = DEFAULT_BASE, backbone_name: str = "inception_v3") -> Path:
    """Write the structural weights and the TF Hub stand-in into ``target``, then link ``base`` in."""
    from helpers.environment import OFFLINE_ENV
    from tfhub_fixture import build_tfhub_savedmodel

    target = Path(target)
    write_structural_weights(target, backbone_name)
    link_base_folder(target, Path(base))
    with mock.patch.dict(os.environ, {OFFLINE_ENV: str(target)}):  # built from the files above
        build_tfhub_savedmodel(target / TFHUB_MODULE, backbone_name)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", type=Path, help="the overlay folder to create")
    parser.add_argument("--base", type=Path, default=DEFAULT_BASE, help="the offline folder to overlay")
    parser.add_argument("--backbone", default="inception_v3")
    args = parser.parse_args()
    sys.path[:0] = [str(ROOT), str(ROOT / "tools")]
    from helpers.setup import import_tensorflow_quietly

    import_tensorflow_quietly()
    print(build_overlay(args.target, args.base, args.backbone))


if __name__ == "__main__":
    main()
