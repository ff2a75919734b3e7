"""Problems where a CNN's assumptions do not hold: small, seeded experiments off Fashion-MNIST.

The chapter "When not to use CNNs" tests the original study's table of problem types that
do not suit convolution. Each module holds one problem's data generator and models:

- :mod:`fmnist_edu.beyond.tabular`: real tables bundled with scikit-learn, whose column
  order means nothing, and the networks for them (a 1-D CNN and an MLP);
  :mod:`fmnist_edu.beyond.tuning` gives them and gradient-boosted trees the same tuning
  budget by nested cross-validation, training the networks side by side
  (:mod:`fmnist_edu.beyond.bank`); :mod:`fmnist_edu.beyond.column_order` tests whether
  the column order changes their accuracy.
- :mod:`fmnist_edu.beyond.longrange`: synthetic 28 x 28 images whose label relates two
  marks in opposite corners; fully convolutional networks with small and large receptive
  fields, and the book's MLP.
- :mod:`fmnist_edu.beyond.sets`: sets of digits ("is their sum above average?"); a 1-D
  CNN over one order against a Deep Sets model. Both 1-D CNNs start with the block of
  :mod:`fmnist_edu.beyond.conv1d`.

The long-range images are 28 x 28, so those models train with the book's one loop,
:func:`fmnist_edu.training.train`. Tables and sets are not images; they train with the
small loop of :mod:`fmnist_edu.beyond.fit`. The pixel-permutation experiment is part of
the main experiment API (``Experiment(permute=...)``, see :mod:`fmnist_edu.permutation`).
Every generator and every training run here is seeded: the same seed gives the same data
and, on the same machine and thread count, the same model.
"""
