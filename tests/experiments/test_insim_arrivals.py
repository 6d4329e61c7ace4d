"""In-simulator experiments in a market with arrivals (market.arrivals): the units are the
people in the market on the assignment day (not those still to arrive), and the truth is about
them."""

import numpy as np

import lifesim
from lifesim.experiments.insim.run import resolve_experiment, true_effects


def _study(configs_dir, days=90):
    scn, exp = resolve_experiment(configs_dir / "study_short_kpi_trap.yaml", customers=1500)
    arrivals = {"per_day": 15.0, "stage": "awareness"}
    d = scn.model_dump(mode="json")
    d["market"]["arrivals"] = arrivals
    d["days"] = days
    d["experiment"]["start"] = 0
    d["experiment"]["metrics"] = {
        "revenue_all": {"kind": "revenue", "within": days},
        "profit_all": {"kind": "profit", "within": days},
    }
    return resolve_experiment(d)


def test_units_are_the_people_present_at_assignment(configs_dir, global_seed):
    scn, exp = _study(configs_dir)
    seed = np.random.SeedSequence(global_seed)
    truth = true_effects(scn, exp, [seed]).set_index(["metric", "arm"])
    plain = {a: lifesim.simulate(scn, seed=seed, strategy=exp.arms[a].strategy) for a in exp.arms}
    n = plain["onboarding"].customers
    assert n > scn.market.size  # people arrived, and they were contacted too
    people = plain["discount"].people
    arrived = people["arrival_day"].to_numpy() >= 0
    assert people.loc[arrived, "purchases"].sum() > 0
    # the truth is about the units (the people present on the assignment day); the people
    # who arrive later are outside the experiment and get the control's strategy, so a
    # rollout of each arm for everyone is not the reference: the truth stays finite and
    # differs from that rollout difference by the arrivals' share of the budget
    got = truth.loc[("revenue_all", "discount"), "true_effect"]
    assert np.isfinite(got)
    assert np.isfinite(truth.loc[("profit_all", "discount"), "true_effect"])
    from lifesim.experiments.insim import run_experiment

    out = run_experiment(scn, seed=1, truth_replications=1)
    # the units: the people present when the window opens on day 0, i.e. market.size plus
    # day 0's arrivals (Poisson(15): above 40 once in 10^8), not the ~1,400 who come later
    assert scn.market.size <= sum(out.n.values()) <= scn.market.size + 40


def test_summaries_say_that_people_arrive(configs_dir):
    from lifesim.experiments import compare
    from lifesim.experiments.insim import run_experiment
    from lifesim.report.summary import compare_decision

    scn, _ = _study(configs_dir, days=30)
    per_day = scn.market.arrivals.per_day
    res = compare(scn, strategies=["none", "stage_focused"], replications=2, seed=1)
    want = f"1,500 people + {per_day:g} arriving a day x 30 days"
    assert want in res.summary().splitlines()[0]
    decision = compare_decision(res)
    assert f"1,500 people + {per_day:g} arriving a day over 30 days" in decision.compared
    out = run_experiment(scn, seed=1, truth_replications=1)
    assert want in out.summary().splitlines()[0]
