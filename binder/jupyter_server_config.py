"""Jupyter Server settings for Binder sessions (binder/start adds this folder to JUPYTER_CONFIG_PATH).

A Binder session has 2 GB of memory for all its kernels together, and JupyterLab keeps a
notebook's kernel running after the learner moves on, even after its tab is closed: each finished
notebook still holds about 1 GiB (0.6 GiB of it its own, the rest TensorFlow's libraries, shared).
With notebooks 1 to 3 still running, notebook 4's kernel is killed for lack of memory
(tools/binder_session.py replays such a session under a 2 GiB limit).

So Jupyter Server shuts down ("culls") a kernel that has run nothing for 15 minutes, even when
its tab is still open: a finished notebook gives its memory back while the learner reads the next
one. Coming back to a culled notebook, choose Kernel > Restart Kernel and Run All Cells (its
results are then computed again). A cell that is still running is never culled.
"""

c = get_config()  # noqa: F821 (defined by Jupyter when it loads this file)
c.MappingKernelManager.cull_idle_timeout = 15 * 60  # seconds without a cell running
c.MappingKernelManager.cull_interval = 60  # how often to look for idle kernels, in seconds
c.MappingKernelManager.cull_connected = True  # an open tab does not keep an idle kernel alive
c.MappingKernelManager.cull_busy = False  # never interrupt a running cell
