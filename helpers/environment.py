"""The environment variables the course reads, by name: the one place that spells them.

Each module that reads one re-exports its name (``assets.OFFLINE_ENV`` is ``OFFLINE_ENV``). This
module imports nothing, so scripts and the test configuration can name a variable without
importing Keras or TensorFlow.
"""

__all__ = ["BACKBONE_ENV", "CACHE_ENV", "HANDLE_ENV", "HEADLESS_ENV", "NO_DOWNLOAD_ENV", "OFFLINE_ENV"]

OFFLINE_ENV = "GOING_DEEPER_ASSETS"  # the offline asset folder (a USB stick, a bundle), read first
CACHE_ENV = "GOING_DEEPER_CACHE"  # where downloads are kept (default: the OS cache folder)
NO_DOWNLOAD_ENV = "GOING_DEEPER_NO_DOWNLOAD"  # 1: a missing asset is an error, never a download
BACKBONE_ENV = "GOING_DEEPER_BACKBONE"  # the backbone the notebooks use (default: Inception V3)
HANDLE_ENV = "GOING_DEEPER_TFHUB_HANDLE"  # notebook 4's TF Hub module: a handle or a local folder
HEADLESS_ENV = "GOING_DEEPER_HEADLESS"  # 1: nobody watches (tests, benchmark): no TensorBoard server
SOLUTIONS_ENV = "GOING_DEEPER_RUN_SOLUTIONS"  # 1: exercise solutions run as their cells run (tests, instructors)
