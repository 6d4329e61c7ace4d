"""In-simulator experiments in a market with arrivals (market.arrivals): the people who arrive
during the run are units too, and their contacts' costs are theirs."""

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


def test_truth_covers_the_people_who_arrive_later(configs_dir, global_seed):
    scn, exp = _study(configs_dir)
    seed = np.random.SeedSequence(global_seed)
    truth = true_effects(scn, exp, [seed]).set_index(["metric", "arm"])
    plain = {a: lifesim.simulate(scn, seed=seed, strategy=exp.arms[a].strategy) for a in exp.arms}
    n = plain["onboarding"].customers
    assert n > scn.market.size  # people arrived, and they were contacted too
    arrived = plain["discount"].people["arrival_day"].to_numpy() >= 0
    assert plain["discount"].people.loc[arrived, "purchases"].sum() > 0
    # everyone is under one arm in a truth run: the truth is the difference of the two
    # rollouts' totals per person of the whole market (arrivals included)
    diff = plain["discount"].revenue_total - plain["onboarding"].revenue_total
    got = truth.loc[("revenue_all", "discount"), "true_effect"]
    assert np.isclose(got, diff / n, rtol=1e-9, atol=1e-9)
    margin = scn.economics.margin
    profit = {a: margin * r.revenue_total - r.marketing_cost for a, r in plain.items()}
    got = truth.loc[("profit_all", "discount"), "true_effect"]
    assert np.isclose(got, (profit["discount"] - profit["onboarding"]) / n, rtol=1e-6)


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
    assert sum(out.n.values()) > 1500  # the units: everyone who was in the market
