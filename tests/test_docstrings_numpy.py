"""Every public function's docstring follows the NumPy docstring convention (numpydoc).

Public functions: ``fastconv.__all__`` and ``fastconv.invariance.__all__``. Each docstring
needs these sections, each header underlined with exactly as many dashes, in numpydoc's order:

- Parameters, documenting every parameter of the signature (``a, b : type`` groups count),
  when the function takes any;
- Returns, unless the function returns None (its annotation in the stub ``__init__.pyi``);
- Raises, when the function takes any parameter (bad arguments raise TypeError or
  ValueError, and the docstring says which);
- Examples, with ``>>>`` lines that run as doctests (and they are run here, per function).

KNOWN_INCOMPLETE lists what some docstrings still lack. It is a ratchet: a function's test
fails on any problem not listed for it (a new function, or a regression), reports xfail while
its listed problems remain, and passes once they are fixed; delete an entry once it passes.
"""

import ast
import doctest
import inspect
import pathlib

import pytest

import fastconv
from fastconv import invariance

# numpydoc's section order
SECTION_ORDER = ("Parameters", "Returns", "Yields", "Receives", "Other Parameters", "Raises", "Warns", "Warnings",
                 "See Also", "Notes", "References", "Examples")

PUBLIC = {**{f"fastconv.{name}": getattr(fastconv, name) for name in fastconv.__all__},
          **{f"fastconv.invariance.{name}": getattr(invariance, name) for name in invariance.__all__}}

# The functions whose stub declares ``-> None`` need no Returns section.
_STUB = ast.parse((pathlib.Path(fastconv.__file__).resolve().parent / "__init__.pyi").read_text())
RETURNS_NONE = {f"fastconv.{node.name}" for node in _STUB.body if isinstance(node, ast.FunctionDef)
                and isinstance(node.returns, ast.Constant) and node.returns.value is None}

# What each docstring still lacks (see the module docstring): name -> problems.
KNOWN_INCOMPLETE = {}


@pytest.fixture(autouse=True)
def backend():
    """Overrides conftest's per-backend parametrisation: docstrings do not depend on it (the
    doctests run on the default backend; tests/test_docstrings.py runs them on every one)."""
    yield fastconv.backend()


def _sections(doc):
    """[(header, line index, underline ok)] of the numpydoc section headers in doc, and its lines."""
    lines = inspect.cleandoc(doc).splitlines()
    found = []
    for i in range(len(lines) - 1):
        head, under = lines[i].strip(), lines[i + 1].strip()
        if head in SECTION_ORDER and under and set(under) == {"-"}:
            ok = lines[i] == head and lines[i + 1] == "-" * len(head)
            found.append((head, i, ok))
    return found, lines


def _section_body(lines, found, header):
    """The lines of section ``header`` (up to the next section header or the end)."""
    starts = [i for _, i, _ in found]
    for head, i, _ in found:
        if head == header:
            following = [s for s in starts if s > i]
            return lines[i + 2:following[0] if following else len(lines)]
    return []


def _documented_parameters(body):
    """Names documented by a Parameters section: its unindented entry lines, ``a, b : type``
    or just ``a, b``."""
    names = set()
    for line in body:
        if not line.strip() or line[0].isspace():
            continue
        for name in line.split(" : ", 1)[0].split(","):
            names.add(name.strip().lstrip("*"))
    return names


def numpy_docstring_problems(qualname, fn):
    """The ways fn's docstring departs from the convention above, as short strings."""
    doc = inspect.getdoc(fn)
    if not doc:
        return {"no docstring"}
    found, lines = _sections(doc)
    problems = {f"underline of {head}" for head, _, ok in found if not ok}
    headers = [head for head, _, _ in found]
    if len(set(headers)) != len(headers):
        problems.add("a section appears twice")
    if headers != sorted(headers, key=SECTION_ORDER.index):
        problems.add(f"sections out of numpydoc order: {', '.join(headers)}")
    params = [p.name for p in inspect.signature(fn).parameters.values()]
    required = ["Examples"]
    if params:
        required += ["Parameters", "Raises"]
    if qualname not in RETURNS_NONE:
        required.append("Returns")
    for header in required:
        if header not in headers:
            problems.add(f"missing {header}")
        elif not any(line.strip() for line in _section_body(lines, found, header)):
            problems.add(f"empty {header}")
    if "Parameters" in headers:
        documented = _documented_parameters(_section_body(lines, found, "Parameters"))
        problems |= {f"parameter {p} undocumented" for p in params if p not in documented}
    if "Examples" in headers and not any(line.lstrip().startswith(">>>")
                                         for line in _section_body(lines, found, "Examples")):
        problems.add("Examples without >>> lines")
    return problems


@pytest.mark.parametrize("qualname", sorted(PUBLIC))
def test_docstring_has_the_numpy_sections(qualname):
    problems = numpy_docstring_problems(qualname, PUBLIC[qualname])
    known = set(KNOWN_INCOMPLETE.get(qualname, ()))
    new = sorted(problems - known)
    assert not new, f"{qualname}: {'; '.join(new)}"
    if problems:
        pytest.xfail(f"known incomplete: {'; '.join(sorted(problems))}")


@pytest.mark.parametrize("qualname", sorted(PUBLIC))
def test_docstring_examples_run(qualname):
    fn = PUBLIC[qualname]
    module = inspect.getmodule(fn)  # examples may use their module's names, as doctest.testmod gives them
    tests = doctest.DocTestFinder(recurse=False).find(fn, qualname, module=module, globs=dict(vars(module)))
    examples = sum(len(t.examples) for t in tests)
    if not examples:
        if "missing Examples" in KNOWN_INCOMPLETE.get(qualname, ()):
            pytest.xfail("known incomplete: missing Examples")
        pytest.fail(f"{qualname} has no doctest examples")
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {qualname} failed"


def test_the_ratchet_lists_only_public_functions():
    assert set(KNOWN_INCOMPLETE) <= set(PUBLIC)


def test_the_checker_catches_departures():
    def bad(x, y):
        """Summary.

        Parameters
        ---------
        x : int

        Examples
        --------
        >>> 1
        1
        """

    problems = numpy_docstring_problems("bad", bad)
    assert problems == {"underline of Parameters", "missing Returns", "missing Raises", "parameter y undocumented"}

    def good(x, y=1):
        """Summary.

        Parameters
        ----------
        x, y : int

        Returns
        -------
        int

        Raises
        ------
        ValueError
            Never.

        Examples
        --------
        >>> good(1)
        1
        """

    assert numpy_docstring_problems("good", good) == set()
