"""Calibration: fit the simulator to a business's own transaction log and check its forecast.

:func:`calibrate` fits the Pareto/NBD (purchase and dropout rates, each heterogeneous across
customers), the Gamma-Gamma spend model, the inflow of new customers and seasonality to a log,
writes them into a scenario whose customer stages, arrivals and calendar implement that model,
draws parameter sets for the fit's uncertainty, and, given a
holdout period, forecasts it with the simulator from the real customers' state at the cutoff,
beside the classic BG/NBD.
"""

from lifesim.experiments.calibration.core import MIN_REPEAT_BUYERS, calibrate
from lifesim.experiments.calibration.forecast import HoldoutCheck
from lifesim.experiments.calibration.models import Fit, Summary, fit_bg_nbd, fit_pareto_nbd
from lifesim.experiments.calibration.result import CalibrationResult

__all__ = [
    "calibrate",
    "CalibrationResult",
    "HoldoutCheck",
    "Fit",
    "Summary",
    "fit_pareto_nbd",
    "fit_bg_nbd",
    "MIN_REPEAT_BUYERS",
]
