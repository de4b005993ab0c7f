"""Shared code for the Going Deeper course.

Modules (each readable in a minute):

- :mod:`helpers.setup`     -- first notebook cell: quiet TensorFlow, seeds, version check
- :mod:`helpers.assets`    -- every downloadable file: offline folder, cache, verified download
- :mod:`helpers.images`    -- photos on disk to arrays: load any photo safely as RGB, crop, resize
- :mod:`helpers.backbones` -- pretrained ImageNet networks, chosen by one setting
- :mod:`helpers.features`  -- photos to backbone features, batched and cached
- :mod:`helpers.plots`     -- image grids, top-k bar charts, training curves
- :mod:`helpers.uploads`   -- upload buttons (Colab and JupyterLab), zips of a photo folder, a photo's URL (notebook 2)
- :mod:`helpers.hub`       -- TF Hub modules the Keras 3 way: a handle resolved to a SavedModel folder (notebook 4)
- :mod:`helpers.tensorboard_runs` -- where TensorBoard runs go, and an Embedding Projector run (notebooks 1 and 3)
- :mod:`helpers.canned`    -- estimator-like one-line Keras classifiers (notebook 1)
- :mod:`helpers.svm_classifier` -- a linear SVM on backbone features, saved as arrays + JSON (notebook 3)
- :mod:`helpers.svm_export` -- that classifier as one TensorFlow model: .keras, SavedModel, TFLite (notebook 3)
- :mod:`helpers.files`     -- every write (atomic files and folders, copies, outputs/) and the one file hash
- :mod:`helpers.bundle`    -- ``python -m helpers.bundle FOLDER``: an offline asset folder for workshops
- :mod:`helpers.datasets`  -- folder-per-class photo datasets, and those published as one zip (ants vs bees)
- :mod:`helpers.intervals` -- confidence intervals for an accuracy, and for two models' difference on the same photos
- :mod:`helpers.environment` -- the names of the environment variables the course reads
- :mod:`helpers.solutions` -- exercise solutions that run when the learner asks, not on *Run All*
- :mod:`helpers.sections`  -- start a notebook at any section: rerun only the cells above it needs
"""
