"""Photo uploads in a notebook that work on Colab (ipywidgets 7) and in JupyterLab (ipywidgets 8).

>>> upload = widgets.FileUpload(accept="image/*")
>>> result = widgets.Output()
>>> @show_errors_in(result)
... def on_upload(change):
...     files = uploaded_files(change.new)
...     clear(upload)  # choosing the same file again is then a change too
...     for name, data in files:
...         ...
>>> upload.observe(on_upload, names="value")
"""

from __future__ import annotations

import functools


def uploaded_files(value) -> list[tuple[str, bytes]]:
    """``(file name, content)`` of every file in a ``FileUpload.value``, for ipywidgets 7 and 8.

    ipywidgets 8 (JupyterLab, VS Code): a tuple of dicts with ``"name"`` and a memoryview
    ``"content"``. ipywidgets 7 (Colab ships 7.7): a dict keyed by file name, whose values
    hold ``"metadata"`` and ``"content"`` (bytes).
    """
    if isinstance(value, dict):  # ipywidgets 7
        return [(name, bytes(item["content"])) for name, item in value.items()]
    return [(item["name"], bytes(item["content"])) for item in value]  # ipywidgets 8


def clear(upload) -> None:
    """Empty a ``FileUpload`` whose files were read, so that choosing the same file again is handled again.

    The widget calls its observers only when its value *changes*: a learner who chooses the same
    photo again (after an error, say) would see nothing happen. Emptying it makes the next choice
    a change. The emptying is a change too, with no files in it. ipywidgets 8 holds a tuple, 7 a
    dict (read-only there, hence ``set_trait``).
    """
    upload.set_trait("value", {} if isinstance(upload.value, dict) else ())


def show_errors_in(output):
    """Decorate a widget callback so whatever it prints, and any error it raises, appear in ``output``.

    Jupyter sends an exception raised inside a widget callback to the kernel's log, not to
    the notebook: the learner clicks and sees nothing. Here a ``ValueError`` (the course's
    "this is what went wrong" errors) is shown as its message, anything else with its type.
    """

    def decorate(callback):
        @functools.wraps(callback)
        def run_and_report(*args, **kwargs):
            with output:
                try:
                    return callback(*args, **kwargs)
                except ValueError as error:
                    print(error)
                except Exception as error:  # noqa: BLE001 -- shown to the learner instead of lost
                    print(f"Something went wrong: {type(error).__name__}: {error}")

        return run_and_report

    return decorate
