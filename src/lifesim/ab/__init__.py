"""A/B test analysis of real experiment data: proportions, means, ratios, CUPED, SRM, power.

Works on an analyst's export alone (one row per randomisation unit, CSV/Parquet, pandas or
polars); never imports the simulator.

Public API
----------
analyze
    Every metric, every arm against control, with CIs, p-values, corrections and SRM.
Proportion, Mean, Ratio
    Metric specifications (strings work too: ``"converted"``, ``"clicks/sessions"``).
ABResult, Comparison, SRMCheck
    Frozen results with ``to_pandas()``, ``summary()``, ``to_dict()`` and an HTML view.
power, sample_size, mde, PowerResult
    Sample size, power or minimum detectable effect, for proportions and means.
sequential, SequentialResult, Look, Decision
    Daily looks at a running experiment: always-valid confidence sequences and p-values, or a
    group-sequential design with Lan-DeMets alpha spending; the decision and its first day.
gsd_boundaries, gsd_plan
    Group-sequential boundaries, inflation factor and expected sample sizes.
bayes, BayesResult, Posterior
    Bayesian read-out: posterior of each effect (Beta-Binomial for proportions, normal
    approximation with a normal prior for means, ratios and CUPED), credible interval,
    probability to beat control, expected loss.
segments, SegmentResult, SegmentEffect, Heterogeneity
    Effects per segment level, corrected across levels (Holm), Cochran's Q and I^2.
aggregate, Aggregates, analyze_aggregates, Moments
    Per-arm sufficient statistics: one pass over the rows, mergeable over chunks of a big
    file with ``+``, or built from sums a database computed (``Moments.from_sums``).
"""

from lifesim.ab.aggregate import Aggregates, aggregate
from lifesim.ab.analyze import SRM_THRESHOLD, analyze, analyze_aggregates
from lifesim.ab.bayes import bayes
from lifesim.ab.bayesresult import BayesResult, Posterior
from lifesim.ab.gsd import boundaries as gsd_boundaries
from lifesim.ab.gsd import gsd_plan
from lifesim.ab.html import forest_plot, render_html
from lifesim.ab.metrics import Mean, Metric, Proportion, Ratio
from lifesim.ab.moments import Moments
from lifesim.ab.power import PowerResult, mde, power, sample_size
from lifesim.ab.result import ABResult, Comparison, SRMCheck
from lifesim.ab.segments import Heterogeneity, SegmentEffect, SegmentResult, segments
from lifesim.ab.seqresult import Decision, Look, SequentialResult
from lifesim.ab.sequential import sequential
from lifesim.ab.stats import P_FLOOR

__all__ = [
    "analyze",
    "aggregate",
    "analyze_aggregates",
    "Aggregates",
    "Proportion",
    "Mean",
    "Ratio",
    "Metric",
    "ABResult",
    "Comparison",
    "SRMCheck",
    "power",
    "sample_size",
    "mde",
    "PowerResult",
    "Moments",
    "forest_plot",
    "render_html",
    "sequential",
    "SequentialResult",
    "Look",
    "Decision",
    "bayes",
    "BayesResult",
    "Posterior",
    "segments",
    "SegmentResult",
    "SegmentEffect",
    "Heterogeneity",
    "gsd_boundaries",
    "gsd_plan",
    "P_FLOOR",
    "SRM_THRESHOLD",
]
