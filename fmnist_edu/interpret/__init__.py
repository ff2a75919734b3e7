"""Interpretability: what a classifier looks at, and whether the pictures can be trusted.

The attributions come from Captum :cite:`kokhlikyan2020captum`; this subpackage adds what
Captum lacks for teaching:

- :mod:`~fmnist_edu.interpret.methods`: a name -> Captum class table (:data:`METHODS`) and
  :func:`attribute`, one call for every method;
- :mod:`~fmnist_edu.interpret.guards`: the checks that keep maps honest (eval mode,
  gradients on, one ``nn.ReLU`` module per activation);
- :mod:`~fmnist_edu.interpret.sanity`: the sanity checks of Adebayo et al. (cascading
  parameter randomisation, label randomisation) with rank correlations and verdicts;
- :mod:`~fmnist_edu.interpret.faithfulness`: deletion curves and their areas, and
  Captum's infidelity and sensitivity with seeded noise;
- :mod:`~fmnist_edu.interpret.examples`: which images to explain, per-class mean maps.

Figures are in :mod:`fmnist_edu.plots_interpret`.
"""

from fmnist_edu.interpret.examples import (
    class_mean_maps,
    ink_share,
    pick_examples,
    stratified_sample,
)
from fmnist_edu.interpret.faithfulness import (
    FRACTIONS,
    RANDOM,
    curve_area,
    deletion_areas,
    deletion_curve,
    deletion_order,
    infidelity,
    random_order,
    sensitivity,
)
from fmnist_edu.interpret.guards import check_ready, check_relu_modules, pool_before_relu
from fmnist_edu.interpret.methods import (
    BASELINE,
    METHODS,
    Method,
    as_inputs,
    attribute,
    attribute_all,
    completeness_gap,
    get_method,
    gradcam_layer,
    gradcam_side,
    last_conv,
)
from fmnist_edu.interpret.sanity import (
    PASS_BELOW,
    CascadeResult,
    Verdict,
    cascading_randomisation,
    first_pass,
    map_similarity,
    randomised_cascade,
    rank_correlation,
    step_verdicts,
    verdict,
    weighted_layers,
)

__all__ = [
    "BASELINE", "CascadeResult", "FRACTIONS", "METHODS", "Method", "PASS_BELOW", "RANDOM",
    "Verdict", "as_inputs", "attribute", "attribute_all", "cascading_randomisation",
    "check_ready", "check_relu_modules", "class_mean_maps", "completeness_gap", "curve_area",
    "deletion_areas", "deletion_curve", "deletion_order", "first_pass", "get_method",
    "gradcam_layer", "gradcam_side", "infidelity", "ink_share", "last_conv", "map_similarity",
    "pick_examples", "pool_before_relu", "random_order", "randomised_cascade",
    "rank_correlation", "sensitivity", "step_verdicts", "stratified_sample", "verdict",
    "weighted_layers",
]  # fmt: skip
