"""pytest configuration shared by the unit tests (tests/) and the notebook runs (notebooks/)."""

import os

# Figures are drawn, never shown, when notebooks and tests run headless.
os.environ.setdefault("MPLBACKEND", "Agg")
# TensorFlow's C++ start-up logs stay out of the test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Nobody watches a test run: notebooks start no TensorBoard server.
os.environ.setdefault("GOING_DEEPER_HEADLESS", "1")

# Offline runs get a TF Hub module built from the offline weights (see the plugin's docstring).
pytest_plugins = ["tests.nbval_setup"]
