"""Shared code for the Going Deeper course.

Modules (each readable in a minute):

- :mod:`helpers.setup`     -- first notebook cell: quiet TensorFlow, seeds, version check
- :mod:`helpers.assets`    -- every downloadable file: offline folder, cache, verified download
- :mod:`helpers.images`    -- load any photo as RGB, crop, resize; folder-per-class datasets
- :mod:`helpers.backbones` -- pretrained ImageNet networks, chosen by one setting
- :mod:`helpers.features`  -- photos to backbone features, batched and cached
- :mod:`helpers.plots`     -- image grids, top-k bar charts, training curves
"""
