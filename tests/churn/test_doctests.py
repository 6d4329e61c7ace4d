"""The examples in lifesim.churn docstrings run and print what they say (doctest)."""

import doctest
import importlib
import pkgutil

import pytest

import lifesim.churn

MODULES = sorted(
    ["lifesim.churn"]
    + [f"lifesim.churn.{m.name}" for m in pkgutil.iter_modules(lifesim.churn.__path__)]
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, verbose=False)
    assert result.failed == 0, f"{result.failed} doctest failure(s) in {name}"


#: Modules whose public names must all carry an example (the model and its evaluation).
WITH_EXAMPLES = ("model", "metrics", "evaluation", "scoring")


def test_public_names_of_the_model_modules_have_examples():
    """Each public name defined in those modules shows how it is called."""
    names = [
        n
        for n in lifesim.churn.__all__
        if getattr(lifesim.churn, n).__module__.rsplit(".", 1)[-1] in WITH_EXAMPLES
    ]
    assert len(names) >= 13
    missing = [n for n in names if ">>>" not in (getattr(lifesim.churn, n).__doc__ or "")]
    assert not missing, f"no doctest example in: {', '.join(missing)}"
