"""Problems where a CNN's assumptions do not hold: small, seeded experiments off Fashion-MNIST.

The chapter "When not to use CNNs" tests the original study's table of problem types that
do not suit convolution. Each module holds one problem's data generator and models:

- :mod:`fmnist_edu.beyond.tabular`: a real table bundled with scikit-learn, whose column
  order means nothing; a 1-D CNN against an MLP and gradient-boosted trees.
- :mod:`fmnist_edu.beyond.longrange`: synthetic 28 x 28 images whose label relates two
  marks in opposite corners; fully convolutional networks with small and large receptive
  fields, and the book's MLP.
- :mod:`fmnist_edu.beyond.sets`: sets of symbols ("does a symbol repeat?"); a 1-D CNN
  over one order against a Deep Sets model.

The long-range images are 28 x 28, so those models train with the book's one loop,
:func:`fmnist_edu.training.train`. Tables and sets are not images; they train with the
small loop of :mod:`fmnist_edu.beyond.fit`. The pixel-permutation experiment is part of
the main experiment API (``Experiment(permute=...)``, see :mod:`fmnist_edu.permutation`).
Every generator and every training run here is seeded: the same seed gives the same data
and, on the same machine and thread count, the same model.
"""
