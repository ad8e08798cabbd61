"""Every public function documents itself with a runnable example."""

import doctest
import inspect

import pytest

import fastconv
from fastconv import (_blur, _blur_backward, _conv, _conv_backward, _correlate, _elementwise, _pool, _pool_backward,
                      invariance)

FUNCTIONS = [n for n in fastconv.__all__ if n not in ("backend", "set_backend", "get_num_threads",
                                                       "set_num_threads", "show_config")]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_public_function_has_shapes_and_an_example(name):
    doc = inspect.getdoc(getattr(fastconv, name))
    assert doc and "Examples" in doc and ">>>" in doc, name


@pytest.mark.parametrize("module", [_blur, _blur_backward, _conv, _conv_backward, _correlate, _elementwise, _pool,
                                    _pool_backward, invariance],
                         ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
