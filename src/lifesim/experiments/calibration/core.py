"""``lifesim.calibrate``: fit the simulator's customer stages to a business's transaction log."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lifesim._progress import ProgressLike, as_progress
from lifesim._random import SeedLike, as_seed_sequence
from lifesim.config import Scenario, ScenarioLike, load_scenario, override, resolve
from lifesim.config.load import scenario_to_dict
from lifesim.errors import ConfigError, DataError
from lifesim.experiments.calibration.correlation import fit_correlation
from lifesim.experiments.calibration.effects import read_effect
from lifesim.experiments.calibration.forecast import bgnbd_check, holdout_check
from lifesim.experiments.calibration.inflow import fit_inflow
from lifesim.experiments.calibration.models import fit_bg_nbd, fit_pareto_nbd
from lifesim.experiments.calibration.result import CalibrationResult
from lifesim.experiments.calibration.scenario import (
    annotate_yaml,
    calibrated_scenario,
    draw_paths,
    order_paths,
)
from lifesim.experiments.calibration.seasonality import WRITE_BELOW, fit_day_of_week, fit_yearly
from lifesim.experiments.calibration.spend import fit_gamma_gamma
from lifesim.experiments.calibration.stages import apply_transitions, fit_stage_transitions
from lifesim.experiments.calibration.summary import CustomerTable, customer_table

if TYPE_CHECKING:  # lifesim.churn (and scikit-learn) load when calibrate runs
    from lifesim.churn import TransactionLog, TransactionSchema

__all__ = ["calibrate", "MIN_REPEAT_BUYERS"]

#: Fewest repeat buyers with which purchase-rate and dropout heterogeneity are fitted.
MIN_REPEAT_BUYERS = 30


def _check_converged(fit: Any, cut: str) -> None:
    """Refuse a fit without a finite maximum (no standard errors, no draws)."""
    if fit.converged and np.all(np.isfinite(fit.log_cov)):
        return
    est = ", ".join(f"{k} = {v:.4g}" for k, v in fit.params.items())
    raise DataError(
        f"the {fit.model} fit did not converge on the customers to {cut}: the likelihood has "
        f"no maximum with finite, well-determined parameters ({est}; a parameter running "
        "off to a very large value means that heterogeneity is not identified by this data), "
        "so there are no standard errors or draws; allowed: a log whose repeat purchases "
        "identify the model (use a later cutoff or a longer log)"
    )


def _order_value(orders: pd.DataFrame) -> dict[str, float]:
    amt = orders["amount"].to_numpy(np.float64)
    pos = amt[amt > 0]
    if len(pos) < 2:
        raise DataError(
            f"amount: {len(pos)} order(s) with a positive value by the cutoff; at least 2 are "
            "needed to fit the order-value distribution"
        )
    logs = np.log(pos)
    mu, sigma = float(logs.mean()), float(logs.std(ddof=0))
    n = len(pos)
    return {
        "mu": mu,
        "sigma": sigma,
        "se_mu": sigma / np.sqrt(n),
        "se_sigma": sigma / np.sqrt(2 * n),
        "n": n,
        "zero": int((amt <= 0).sum()),
    }


def _transition_draws(
    moves: pd.DataFrame | None,
    scn: Scenario,
    paths: dict[str, np.ndarray],
    n: int,
    seed: np.random.SeedSequence,
) -> dict[str, np.ndarray]:
    """Draws of the observed transitions written into ``scn``: Gamma(moves + 1/2, days at risk).

    (The Jeffreys posterior of a Poisson rate.) Every draw makes a valid scenario when the
    largest of each column does, as the scenario's checks only grow with each probability:
    that one scenario is checked, and without it the observed values stay fixed (``{}``).
    """
    if moves is None:
        return {}
    rng = np.random.default_rng(seed)
    out = {
        row.scenario: rng.gamma(row.moves + 0.5, 1.0 / row.days_at_risk, n)
        for row in moves.itertuples()
        if row.scenario.startswith("stages.")
    }
    if not out:
        return {}
    top = {k: float(v.max()) for k, v in paths.items() if k.startswith("stages.")}
    top |= {k: float(v.max()) for k, v in out.items()}
    try:
        override(scn, top)
    except ConfigError:
        return {}
    return out


def _weekly_fit(table: CustomerTable, params: dict[str, float]) -> pd.DataFrame:
    """Observed vs expected repeat purchase days per calendar week of the calibration period."""
    r, alpha, s, beta = (params[k] for k in ("r", "alpha", "s", "beta"))
    c = table.customers
    first, count = np.unique(c["first_day"].to_numpy(), return_counts=True)
    start = int(first.min())
    weeks = (table.cutoff - start) // 7 + 1
    ends = np.minimum(start + 7 * np.arange(1, weeks + 1) - 1, table.cutoff)
    t = np.clip(ends[:, None] - first[None, :], 0, None).astype(np.float64)
    if abs(s - 1) < 1e-9:
        ex = r / alpha * beta * np.log1p(t / beta)
    else:
        ex = r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))
    expected_cum = ex @ count  # customers who started on the same day alike
    o = table.calibration_orders
    firsts = o.groupby("cust")["day"].transform("min")
    rep = o[o["day"] > firsts]
    observed = np.bincount((rep["day"].to_numpy() - start) // 7, minlength=weeks)[:weeks]
    return pd.DataFrame(
        {
            "week": np.arange(1, weeks + 1),
            "observed": observed,
            "fitted": np.diff(expected_cum, prepend=0.0),
            "cum_observed": np.cumsum(observed),
            "cum_fitted": expected_cum,
        }
    )


def _histogram_fit(
    table: CustomerTable, params: dict[str, float], rng: np.random.Generator
) -> pd.DataFrame:
    """Observed vs fitted customers by repeat purchase days (fitted: simulated histories)."""
    r, alpha, s, beta = (params[k] for k in ("r", "alpha", "s", "beta"))
    T = table.customers["T"].to_numpy(np.float64)
    n = len(T)
    reps = int(np.clip(2_000_000 // max(n, 1), 1, 20))  # ~2M simulated histories in all
    top = 7
    sim = np.zeros(top + 1)
    for _ in range(reps):
        lam = rng.gamma(r, 1 / alpha, n)
        mu = rng.gamma(s, 1 / beta, n)
        life = np.minimum(rng.exponential(1.0, n) / mu, T)
        k = rng.poisson(lam * life)
        sim += np.bincount(np.minimum(k, top), minlength=top + 1)[: top + 1]
    obs = np.bincount(np.minimum(table.customers["x"].to_numpy(), top), minlength=top + 1)
    return pd.DataFrame(
        {
            "repeat_days": [*map(str, range(top)), f"{top}+"],
            "observed": obs[: top + 1],
            "fitted": sim / reps,
        }
    )


def _spend_draws(spend: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` Gamma-Gamma parameter sets with a finite mean order value (``q > 1``).

    The asymptotic normal of the log-parameters (as the other draws); the rare draw with
    ``q <= 1`` is drawn again, i.e. the draws come from the normal restricted to ``q > 1``.
    """
    out = np.empty((0, 3))
    while len(out) < n:
        d = spend.draws(n, rng)
        out = np.vstack([out, d[d[:, 1] > 1]])
    return out[:n]


def _with_arrivals(
    scn: Scenario, inflow: Any, comments: dict[tuple[str, ...], str], label: str
) -> Scenario:
    """Write the fitted inflow as ``market.arrivals`` into the buying customer stage."""
    alive = next(n for n, st in scn.stages.items() if st.kind == "customer" and st.buy)
    arrivals = {"per_day": float(inflow.rate), "stage": alive, "purchase": True}
    out = override(scn, {"market.arrivals": arrivals})
    path = ("market", "arrivals")
    comments[(*path, "per_day")] = (
        f"fitted from the first purchases of {label}: {inflow.first_purchases:,} in "
        f"{inflow.days:,} days (Poisson; 95% interval [{inflow.lower:.4g}, {inflow.upper:.4g}])"
    )
    comments[(*path, "stage")] = "new customers enter the buying customer stage"
    comments[(*path, "purchase")] = "arriving is their first order"
    return out


def _with_calendar(
    scn: Scenario,
    seasons: Sequence[Any],
    start: str,
    comments: dict[tuple[str, ...], str],
    label: str,
) -> tuple[Scenario, list[str]]:
    """Write the identified seasonal multipliers into ``calendar`` (day 0 = ``start``).

    Returns the scenario and notes for what could not be written (a multiplier that would
    push a daily purchase probability above 1 leaves the scenario without seasonality).
    """
    values: dict[str, Any] = {}
    notes: list[str] = []
    key = {"day_of_week": "day_of_week", "yearly": "month"}
    for f in seasons:
        if f.identified and f.p_value >= WRITE_BELOW:  # noise would only add variance
            notes.append(
                f"{key[f.kind]} seasonality: not written to the scenario (no evidence: test of "
                f"none p = {f.p_value:.3g} >= {WRITE_BELOW})"
            )
        elif f.identified:
            values[f"calendar.{key[f.kind]}"] = {
                row.season: float(row.multiplier) for row in f.table.itertuples()
            }
    if not values:
        return scn, notes
    try:
        out = override(scn, {"calendar.start": start, **values})
    except ConfigError as exc:
        return scn, [*notes, f"seasonality: fitted but not written to the scenario ({exc})"]
    comments[("calendar", "start")] = "the day after the cutoff: day 0 of a run from the cutoff"
    for k in values:
        comments[tuple(k.split("."))] = (
            f"fitted from the repeat purchase days of {label}: multipliers of buy.p (mean 1)"
        )
    return out, notes


def _feasible_draws(
    fit: Any, scn: Scenario, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """Draw ``n`` parameter sets the engine can represent (a valid scenario each).

    The asymptotic normal of a weakly identified fit reaches values no daily probability can
    hold (a mean dropout above 1 a day): such draws are rejected and drawn again, i.e. the
    draws come from the normal restricted to the representable region. Returns the draws and
    how many were rejected.

    Raises
    ------
    DataError
        When almost every draw is out of reach (the fit is too weak to simulate).
    """
    out: list[np.ndarray] = []
    rejected = 0
    while len(out) < n:
        for theta in fit.draws(n, rng):
            if len(out) == n:
                break
            row = np.array([theta])
            values = {k: float(v[0]) for k, v in draw_paths(scn, row).items()}
            try:
                override(scn, values)
            except ConfigError:
                rejected += 1
                if rejected > 20 * n:
                    raise DataError(
                        f"the fit is too weakly identified to simulate: {rejected} of "
                        f"{rejected + len(out)} parameter draws give rates no daily probability "
                        "can hold (use a longer log or a later cutoff)"
                    ) from None
                continue
            out.append(theta)
    return np.array(out), rejected


def _read(
    transactions: Any,
    schema: TransactionSchema | None,
    sep: str | None,
    cutoff: Any,
    events: Any = None,
) -> TransactionLog:
    from lifesim.churn import prepare

    if events is None and schema is not None and schema.stage is not None:
        events = transactions  # one file: its stage column gives the stage entered per row
    date_hint = isinstance(cutoff, str) and not cutoff.strip().lstrip("-").isdigit()
    return prepare(transactions, schema=schema, sep=sep, date_hint=date_hint, events=events)


def _check_stage_entries(log: Any, scn: Scenario, explicit_events: bool) -> None:
    """Refuse an event log that cannot give one observed move (it would be ignored silently).

    ``--events`` with no stage column (and so no stage entry or cancellation), with no rows,
    or whose stage column holds none of the scenario's stages (e.g. ``--stage-col date``).
    """
    col = ((log.columns or {}).get("events") or {}).get("stage")
    if explicit_events and col is None:
        raise DataError(
            "events: no stage column (looked for 'to_stage', 'stage'): the event log would be "
            "ignored; allowed: name the column holding the stage each customer entered with "
            "--stage-col"
        )
    if col is None:
        return
    if log.ev_stage is None or not (log.ev_stage >= 0).any():
        raise DataError(
            f"events: the event log has no rows with a stage in column {col!r} (stage, "
            "--stage-col); allowed: one row per stage entry (customer, time, stage)"
        )
    values = [str(v) for v in log.categories.get("stage", ())]
    known = set(scn.stages) | set(log.churn_events)
    if not known.intersection(values):
        shown = ", ".join(map(repr, values[:5])) + (
            f" (and {len(values) - 5} more)" if len(values) > 5 else ""
        )
        raise DataError(
            f"column {col!r} (stage, --stage-col) holds none of the scenario's stages: its values "
            f"are {shown}; allowed: the stage each customer entered, named as in the scenario "
            f"({', '.join(scn.stages)}) or a --churn-event value ({', '.join(log.churn_events)})"
        )


def _check_within_purchases(log: Any, cut: int, hold: int | None, default_cut: bool) -> None:
    """Refuse a cutoff or holdout end after the transactions' last row (events ran longer).

    An event log that runs past the purchases moves the log's last day: customers would look
    silent from the end of the purchase data on (a biased dropout), and the holdout would
    count purchases that were never exported.
    """
    rows = [log.day] + ([log.ev_day[log.ev_stage < 0]] if log.ev_stage is not None else [])
    last = int(np.concatenate(rows).max())
    for flag, day in (("cutoff", cut), ("holdout_end", hold)):
        if day is not None and day > last:
            why = " (by default the last day of the log, here of the events)"
            why = why if default_cut and flag == "cutoff" else ""
            raise DataError(
                f"{flag} == {log.format_day(day)!r}{why}"
                f" is after the last row of the transactions ({log.format_day(last)}): the "
                f"events run to {log.format_day(log.last_day)}, but purchases after the "
                "transactions end are unknown, not absent; allowed: up to "
                f"{log.format_day(last)} (--{flag.replace('_', '-')})"
            )


def calibrate(
    transactions: pd.DataFrame | str | os.PathLike,
    *,
    cutoff: Any = None,
    holdout_end: Any = None,
    schema: TransactionSchema | None = None,
    sep: str | None = None,
    base: ScenarioLike = None,
    draws: int = 200,
    forecast_draws: int = 50,
    seed: SeedLike = 0,
    effects: Sequence[str] = (),
    progress: ProgressLike = None,
    events: pd.DataFrame | str | os.PathLike | None = None,
) -> CalibrationResult:
    """Fit the simulator's customer stages to a transaction log; check the forecast.

    Parameters
    ----------
    transactions : DataFrame or path
        One row per purchase (CSV/TSV/Parquet or a DataFrame), read as ``lifesim churn``
        reads it: customer, time and amount columns (detected, or named in ``schema``).
    cutoff : date or int, optional
        End of the calibration period (default: the last day of the log).
    holdout_end : date or int, optional
        End of the holdout: forecast ``(cutoff, holdout_end]`` with the simulator and with
        BG/NBD and compare with what happened.
    schema : TransactionSchema, optional
    sep : str, optional
        Field separator of a text file.
    base : Scenario, mapping, path or None
        Where the values the data cannot identify come from (default: the embedded default).
    draws : int
        Parameter sets in ``draws`` (>= 10).
    forecast_draws : int
        Parameter draws simulated for the holdout check (>= 10; each its own cutoff state).
    seed : int, SeedSequence or None
        Seeds the draws and the holdout simulations.
    effects : sequence of str
        ``"TACTIC=RESULT.json"`` (or ``"TACTIC.SRC->DST=RESULT.json[:METRIC]"``): set the
        tactic's factor from an ``ab analyze`` JSON result, with its uncertainty in the draws
        (see :mod:`lifesim.experiments.calibration.effects`).
    progress : callable(done, total), True or None
        Called after each holdout simulation; ``True`` shows a progress bar (see
        :mod:`lifesim._progress`).
    events : DataFrame or path, optional
        An event log with the same customer and time columns and a stage column (the stage
        entered; ``schema.stage``, or detected ``to_stage``/``stage``): the observed moves
        between stages are fitted and written into the scenario (see
        :mod:`lifesim.experiments.calibration.stages`). Without it, a ``schema.stage``
        column of the transactions is read the same way, and ``schema.event`` values in
        ``schema.churn_events`` are cancellations.

    Returns
    -------
    CalibrationResult

    Raises
    ------
    DataError
        A log without the needed columns, a cutoff outside the data, a holdout end not after
        the cutoff or beyond the data, too few repeat buyers.
    """
    t0 = time.perf_counter()
    for name, v in (("draws", draws), ("forecast_draws", forecast_draws)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 10:
            raise ConfigError([(name, f"must be a whole number >= 10, got {v!r}")])
    if holdout_end is not None and forecast_draws > draws:
        raise ConfigError([("forecast_draws", f"must be <= draws ({draws}), got {forecast_draws}")])
    base_scn: Scenario = base if isinstance(base, Scenario) else load_scenario(base)
    log = _read(transactions, schema, sep, cutoff if cutoff is not None else holdout_end, events)
    _check_stage_entries(log, base_scn, explicit_events=events is not None)
    cut = log.last_day if cutoff is None else log.parse_time(cutoff, "cutoff")
    if not log.first_day <= cut <= log.last_day:
        raise DataError(
            f"cutoff == {cutoff!r} is outside the data: the log runs from "
            f"{log.format_day(log.first_day)} to {log.format_day(log.last_day)}; allowed: a day "
            "in that range"
        )
    hold = None
    if holdout_end is not None:
        hold = log.parse_time(holdout_end, "holdout_end")
        if hold <= cut:
            raise DataError(
                f"holdout_end == {holdout_end!r} is not after the cutoff "
                f"({log.format_day(cut)}); allowed: a later day, up to "
                f"{log.format_day(log.last_day)}"
            )
        if hold > log.last_day:
            raise DataError(
                f"holdout_end == {holdout_end!r} is beyond the data (last day "
                f"{log.format_day(log.last_day)}); allowed: up to the last day"
            )
    if events is not None:
        _check_within_purchases(log, cut, hold, cutoff is None)
    table = customer_table(log, cut, hold)
    c = table.customers
    repeat = int((c["x"] > 0).sum())
    if repeat < MIN_REPEAT_BUYERS:
        raise DataError(
            f"too few repeat buyers to identify purchase and dropout heterogeneity: {repeat} of "
            f"{len(c):,} customers bought again by the cutoff ({log.format_day(cut)}); at least "
            f"{MIN_REPEAT_BUYERS} are needed (use a later cutoff or a longer log)"
        )
    s = table.summary
    fit = fit_pareto_nbd(s)
    bg = fit_bg_nbd(s)
    for f in (fit, bg) if hold is not None else (fit,):
        _check_converged(f, log.format_day(cut))
    ov = _order_value(table.calibration_orders)
    o = table.calibration_orders
    oc = o["cust"].to_numpy()
    rep_orders = o[np.r_[False, oc[1:] == oc[:-1]]]  # by customer, then day: not the first
    spend_m = c["repeat_value"].to_numpy()
    spend = fit_gamma_gamma(c["x"].to_numpy(), spend_m)
    use_spend = spend.converged and spend.params["q"] > 1  # else: no finite mean order value
    source = str(transactions) if not isinstance(transactions, pd.DataFrame) else "a DataFrame"
    label = f"{len(c):,} customers of {os.path.basename(source)} to {log.format_day(cut)}"
    scn, comments, missing = calibrated_scenario(
        base_scn,
        fit.params,
        (ov["mu"], ov["sigma"]),
        label,
        spend=tuple(spend.estimate) if use_spend else None,
    )
    corr = fit_correlation(s, fit.estimate)
    missing.append(
        f"{corr.summary_line()}: reported, not written to the scenario (fitted with r, alpha, "
        "s, beta held at the independent fit; written so, it made the CDNOW holdout forecast "
        "worse), so purchase and dropout rates stay independent, as in the Pareto/NBD; set "
        "segments.customers.dropout_correlation to use it"
    )
    if not use_spend:
        missing.append(
            "spend heterogeneity (Gamma-Gamma): "
            + (
                f"q = {spend.params['q']:.3g} <= 1 (no finite mean order value)"
                if spend.converged
                else "the fit did not converge"
            )
            + "; every customer's orders share one log-normal order value distribution"
        )
    scn = resolve(scn, customers=len(c))  # the business's size (budget, fees, staff scaled)
    comments[("market", "size")] = (
        f"the customers at the cutoff ({label}); budget, tactic fees and support staff of the "
        "base scenario scaled with it"
    )
    inflow = fit_inflow(c["first_day"].to_numpy(), log.first_day, cut, log.format_day)
    unused: list[str] = []  # fitted, but the engine has no field for it
    if inflow.identified:
        scn = _with_arrivals(scn, inflow, comments, label)
    else:
        missing.append(inflow.summary_line())
    repeat_days = rep_orders["day"].to_numpy()
    dates = log.time_kind == "date"
    seasons = tuple(
        f(repeat_days, log.first_day, cut, dates) for f in (fit_day_of_week, fit_yearly)
    )
    for season in seasons:
        if not season.identified:
            missing.append(season.summary_line())
    scn, seasonal_notes = _with_calendar(scn, seasons, log.format_day(cut + 1), comments, label)
    missing += seasonal_notes
    if ov["zero"]:
        share = ov["zero"] / (ov["zero"] + ov["n"])
        model = "Gamma-Gamma" if use_spend else "log-normal"
        missing.append(
            f"order value: {ov['zero']:,} of {ov['zero'] + ov['n']:,} orders ({share:.1%}) had "
            f"a value of 0 and are left out of the {model} fit; every simulated order has a "
            f"positive value, so revenue per order is {1 / (1 - share) - 1:.1%} higher than in "
            "the log"
        )
    measured = [read_effect(spec, scn) for spec in effects]
    if measured:
        scn = override(
            scn,
            {
                k: v
                for m in measured
                for k, v in ((m.path, m.factor), (f"tactics.{m.tactic}.source", m.source))
            },
            where="(--effect)",
        )
        for m in measured:
            comments[tuple(m.path.split("."))] = m.source
        missing = [
            f"{ln} (except the measured: {', '.join(m.path for m in measured)})"
            if ln.startswith("tactic effects")
            else ln
            for ln in missing
        ]
    transitions = None
    if log.ev_cust.size:
        first = pd.Series(c["first_day"].to_numpy(), index=log.customers.get_indexer(c.index))
        churned = next((n for n, st in scn.stages.items() if st.kind == "churned"), "churned")
        moves = fit_stage_transitions(log, cut, first, churned)
        if moves is not None:
            dropout = fit.params["s"] / fit.params["beta"]
            scn, transitions, observed, written = apply_transitions(scn, moves, label, dropout)
            comments.update(observed)
            done = tuple(w.removesuffix(".p") + ":" for w in written)
            missing = [ln for ln in missing if not ln.startswith(done)]  # now observed
            kind = {p: scn.stages[p.split(".")[1]].kind == "customer" for p in written}
            for i, ln in enumerate(missing):
                mine = [p for p in written if kind[p] == ln.startswith("moves between customer")]
                if mine and ln.startswith(("prospect stages", "moves between customer stages")):
                    missing[i] = f"{ln} (except the observed: {', '.join(mine)})"
    header = (
        f"lifesim calibrate: {source}, cutoff {log.format_day(cut)}\n"
        "Fitted values carry a comment saying what they were fitted from.\n"
        "Not identified by this data (taken from the base scenario):\n"
        + "\n".join(f"  - {m}" for m in missing)
        + "\n"
        + (
            "Fitted but not used by the engine (see fit.json):\n"
            + "\n".join(f"  - {m}" for m in unused)
            + "\n"
            if unused
            else ""
        )
    )
    yaml_text = annotate_yaml(scenario_to_dict(scn), comments, header)
    ss = as_seed_sequence(seed)
    draw_ss, hist_ss, sim_ss = ss.spawn(3)
    rng = np.random.default_rng(draw_ss)
    pd_draws, rejected = _feasible_draws(fit, scn, draws, rng)
    if use_spend:
        ov_draws = _spend_draws(spend, draws, rng)
        ov_cols = ["spend_p", "spend_q", "spend_gamma"]
    else:
        ov_draws = np.column_stack(
            [
                rng.normal(ov["mu"], ov["se_mu"], draws),
                np.abs(rng.normal(ov["sigma"], ov["se_sigma"], draws)),
            ]
        )
        ov_cols = ["order_value_mu", "order_value_sigma"]
    draws_df = pd.DataFrame(
        np.column_stack([pd_draws, ov_draws]), columns=["r", "alpha", "s", "beta", *ov_cols]
    )
    paths = draw_paths(scn, pd_draws) | order_paths(scn, ov_draws)
    for m in measured:
        paths[m.path] = m.draws(draws, rng)
    observed_draws = _transition_draws(transitions, scn, paths, draws, ss.spawn(1)[0])
    if scn.market.arrivals is not None:  # Jeffreys posterior of the Poisson rate
        arr_rng = np.random.default_rng(ss.spawn(1)[0])
        paths["market.arrivals.per_day"] = arr_rng.gamma(
            inflow.first_purchases + 0.5, 1.0 / inflow.days, draws
        )
    draws_df = pd.concat([draws_df, pd.DataFrame({**paths, **observed_draws})], axis=1)
    draws_df.insert(0, "draw", np.arange(draws))
    check = base_check = actual = None
    if hold is not None:
        ho = table.holdout_orders
        days = ho["day"].to_numpy() - cut
        pos = c.index.get_indexer(log.customers[ho["cust"].to_numpy()])
        horizon = hold - cut
        k = forecast_draws
        progress = as_progress(progress, k, "calibrate (holdout check)", "draws")
        check = holdout_check(
            scn,
            fit,
            pd_draws[:k],
            s,
            days,
            pos,
            ho["amount"].to_numpy(),
            horizon,
            sim_ss,
            progress,
            spend=(ov_draws[:k], spend_m) if use_spend else None,
        )
        bg_draws = bg.draws(k, rng)
        money = None
        if spend.converged and spend.params["q"] > 1:
            revenue = float(ho["amount"].sum())
            money = (spend, spend.draws(k, rng), spend_m, revenue)
        base_check = bgnbd_check(bg, bg_draws, s, days, pos, horizon, money)
        actual = np.bincount(pos, minlength=len(c)).astype(float)
    return CalibrationResult(
        source=source,
        cutoff=log.format_day(cut) if log.time_kind == "date" else str(cut),
        holdout_end=None
        if hold is None
        else (log.format_day(hold) if log.time_kind == "date" else str(hold)),
        customers=len(c),
        purchase_days=int(c["orders"].sum()),
        repeat_buyers=repeat,
        rows=log.n_transactions,
        fit=fit,
        bgnbd=bg,
        order_value=ov,
        scenario=scn,
        scenario_yaml=yaml_text,
        not_identified=missing,
        draws=draws_df,
        holdout=check,
        baseline=base_check,
        holdout_actual=actual,
        calibration_weekly=_weekly_fit(table, fit.params),
        repeat_histogram=_histogram_fit(table, fit.params, np.random.default_rng(hist_ss)),
        order_values=table.calibration_orders["amount"].to_numpy(),
        elapsed_s=time.perf_counter() - t0,
        customer_summary=s,
        draws_rejected=rejected,
        inflow=inflow,
        not_used=unused,
        seasonality=seasons,
        stage_transitions=transitions,
        spend=spend,
        repeat_value=spend_m,
        correlation=corr,
    )
