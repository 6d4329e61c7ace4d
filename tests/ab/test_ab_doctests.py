"""The examples in the docstrings of ``lifesim.ab`` run, and print what they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

from lifesim import ab

MODULES = sorted(m.name for m in pkgutil.iter_modules(ab.__path__))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"lifesim.ab.{name}")
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    res = doctest.testmod(module, optionflags=flags, report=True)
    assert res.failed == 0, f"{res.failed} docstring examples of lifesim.ab.{name} failed"


def test_public_functions_have_examples():
    finder = doctest.DocTestFinder()
    for name in ("analyze", "power", "Proportion", "Mean", "Ratio", "Metric"):
        tests = finder.find(getattr(ab, name), name)
        runnable = [ex for t in tests for ex in t.examples if not ex.options.get(doctest.SKIP)]
        assert runnable, f"lifesim.ab.{name} has no docstring example that runs"
