import pytest

import lifesim
from lifesim.errors import ConfigError
from lifesim.model import make_strategy


def test_churn_targeted_trains_on_the_simulated_history_and_spends_on_its_ranking(global_seed):
    scn = lifesim.load_scenario(None)
    strat = make_strategy(scn, "churn_targeted")
    res = lifesim.simulate(scn, seed=global_seed, customers=6000, days=200, strategy=strat)
    assert strat.model_info, "the model was never trained"
    assert all(0 < m["churn_rate"] < 1 for m in strat.model_info)
    tac = res.tactics.set_index("tactic")
    assert tac.loc["proactive_support", "contacts"] > 0
    budget = res.scenario.budget.per_period
    assert (res.ledger.groupby("period").cost.sum() <= budget + 1e-6).all()
    # the ranking holds customers only (the offer's stages), never prospects
    fcd = res.people.first_customer_day.to_numpy()[strat.ranked]
    assert len(strat.ranked) > 0 and (fcd >= 0).all()


def test_churn_targeted_in_compare():
    from lifesim.experiments import compare

    res = compare(
        None,
        strategies="stage_focused,churn_targeted",
        replications=2,
        customers=1500,
        days=150,
        seed=1,
    )
    # the compared strategies, plus the no-marketing counterfactual of the incremental view
    assert set(res.runs.strategy) == {"stage_focused", "churn_targeted", "(no marketing)"}
    assert list(res.strategies) == ["stage_focused", "churn_targeted"]


def test_churn_targeted_bad_params():
    scn = lifesim.load_scenario(None).model_dump(mode="json")
    scn["strategies"] = {"ct": {"type": "churn_targeted", "params": {"offer": "nope"}}}
    with pytest.raises(ConfigError, match="params.offer: unknown tactic 'nope'"):
        lifesim.simulate(scn, strategy="ct", customers=100, days=5)
    scn["strategies"] = {"ct": {"type": "churn_targeted", "params": {"horizon": 3}}}
    with pytest.raises(ConfigError, match="unknown parameter"):
        lifesim.simulate(scn, strategy="ct", customers=100, days=5)


def _with_split(split):
    scn = lifesim.load_scenario(None).model_dump(mode="json")
    scn["strategies"] = {"ct": {"type": "churn_targeted", "split": split}}
    return scn


def test_churn_targeted_split_by_stage_is_refused():
    # the split is read per budget group; a stage split used to be accepted and partly ignored
    with pytest.raises(
        ConfigError,
        match=r"strategies\.ct\.split\.active: unknown key 'active'; "
        r"allowed: acquisition, retention, advocacy",
    ) as e:
        lifesim.load_scenario(_with_split({"active": 0.5, "retention": 0.5}))
    assert [p for p, _ in e.value.problems] == ["strategies.ct.split.active"]


@pytest.mark.parametrize("group", ["acquisition", "retention"])
def test_churn_targeted_split_by_group_is_accepted_and_spent_by_group(group):
    split = {"acquisition": 0.0, "retention": 0.0, "advocacy": 0.0, group: 1.0}
    scn = lifesim.load_scenario(_with_split(split))  # a group split used to be refused
    strat = make_strategy(scn, "ct")
    assert strat.split == split
    res = lifesim.simulate(scn, seed=3, customers=3000, days=150, strategy=strat)
    contacts = res.tactics.set_index("tactic").contacts
    acquisition = {t for _, t in strat.pairs["acquisition"]}
    retention = {t for _, t in strat.pairs["retention"]} - acquisition
    assert strat.offer in retention
    spent, unspent = (
        (acquisition, retention) if group == "acquisition" else (retention, acquisition)
    )
    assert contacts[sorted(spent)].sum() > 0
    assert (contacts.reindex(sorted(unspent), fill_value=0) == 0).all()
    # the retention share is what the model's ranking spends after the warm-up
    assert (contacts.get(strat.offer, 0) > 0) == (group == "retention")


def test_a_default_offer_the_scenario_lacks_is_refused_before_any_run(configs_dir):
    from lifesim.experiments import compare

    calls = []
    with pytest.raises(ConfigError) as err:
        compare(
            configs_dir / "subscription.yaml",
            strategies="none,churn_targeted",
            customers=200,
            days=10,
            progress=lambda done, total: calls.append(done),
        )
    msg = str(err.value)
    assert "unknown tactic 'proactive_support' (the default offer)" in msg
    # what is allowed: the scenario's contact tactics for customers, and where to choose one
    assert "known: onboarding_emails, usage_nudges, annual_plan_offer" in msg
    assert "params: {offer: NAME}" in msg
    assert calls == []  # refused before the first run, not in the middle of the job
