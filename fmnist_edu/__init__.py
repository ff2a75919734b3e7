"""fmnist_edu: the tested code behind the book *Why convolutional networks work*.

The package is small on purpose. Each module holds one concept:

- :mod:`fmnist_edu.data` reads Fashion-MNIST into memory and carves the splits;
- :mod:`fmnist_edu.download` fetches the official release;
- :mod:`fmnist_edu.models` defines the MLP baseline and the configurable CNN;
- :mod:`fmnist_edu.summary` computes shapes, parameters, MACs and receptive fields;
- :mod:`fmnist_edu.training` holds the one training loop and evaluation;
- :mod:`fmnist_edu.experiments` and :mod:`fmnist_edu.store` run and cache experiments;
- :mod:`fmnist_edu.analysis`, :mod:`fmnist_edu.plots` and :mod:`fmnist_edu.provenance`
  serve the book's chapters;
- :mod:`fmnist_edu.cli` is the ``fmnist-edu`` command.
"""

from fmnist_edu.errors import FmnistEduError

__version__ = "0.1.0"

__all__ = ["FmnistEduError", "__version__"]
