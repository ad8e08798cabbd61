"""The type stubs and ``python -m fastconv``.

- The installed package ships ``py.typed`` and the stubs (``__init__.pyi``, ``reference.pyi``,
  ``invariance.pyi``): PEP 561, so type checkers use them.
- ``mypy --strict`` passes on ``examples/typed_usage.py``, which calls every public function,
  and fails on calls that break the stubs' types (so the stubs are what mypy reads); the
  example also runs. The stubs and ``__main__.py`` pass ``mypy --strict`` themselves.
- Every name of ``__all__`` is in the stubs, and every stub signature has the runtime's
  parameter names, kinds and defaults (the stubs parsed with ``ast``, compared with
  ``inspect.signature``).
- ``python -m fastconv`` prints the description, version and configuration, passes its
  self-check against the reference in well under 20 s, and exits 1 when a result is wrong.
"""

import ast
import contextlib
import inspect
import io
import pathlib
import subprocess
import sys
import textwrap
import time

import pytest

import fastconv
from fastconv import invariance, reference

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "typed_usage.py"
PACKAGE = pathlib.Path(fastconv.__file__).resolve().parent  # the installed package (src/ when editable)
STUBS = {"fastconv": PACKAGE / "__init__.pyi", "fastconv.reference": PACKAGE / "reference.pyi",
         "fastconv.invariance": PACKAGE / "invariance.pyi"}
MODULES = {"fastconv": fastconv, "fastconv.reference": reference, "fastconv.invariance": invariance}


@pytest.fixture(autouse=True)
def backend():
    """Overrides conftest's per-backend parametrisation: these tests check files and
    subprocesses, once (``python -m fastconv`` checks the backend the CPU selects)."""
    yield fastconv.backend()


# --------------------------------------------------------------------------- reading the stubs


class Stub:
    """A parsed .pyi: its functions (each a list of its overloads, in order), the names it
    re-exports with ``from . import name as name``, its annotated names and its ``__all__``."""

    def __init__(self, path):
        self.tree = ast.parse(path.read_text(), str(path))
        self.functions, self.reexports, self.names, self.all = {}, set(), set(), None
        for node in self.tree.body:
            if isinstance(node, ast.FunctionDef):
                self.functions.setdefault(node.name, []).append(node)
            elif isinstance(node, ast.ImportFrom) and node.level == 1 and not node.module:
                self.reexports |= {alias.name for alias in node.names if alias.asname == alias.name}
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                self.names.add(node.target.id)
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__"
                                                      for t in node.targets):
                self.all = ast.literal_eval(node.value)

    def defines(self, name):
        return name in self.functions or name in self.reexports or name in self.names


def load_stubs():
    return {module: Stub(path) for module, path in STUBS.items()}


def stub_parameters(fn):
    """[(name, kind, default)] of a stub FunctionDef; default is inspect.Parameter.empty when
    there is none and ... when the stub leaves it unspecified."""
    args = fn.args
    positional = [(a, inspect.Parameter.POSITIONAL_ONLY) for a in args.posonlyargs] + \
                 [(a, inspect.Parameter.POSITIONAL_OR_KEYWORD) for a in args.args]
    defaults = [inspect.Parameter.empty] * (len(positional) - len(args.defaults)) + list(args.defaults)
    params = []
    for (arg, kind), default in zip(positional, defaults):
        params.append((arg.arg, kind, default))
    if args.vararg:
        params.append((args.vararg.arg, inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.empty))
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        params.append((arg.arg, inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.empty if default is None else default))
    if args.kwarg:
        params.append((args.kwarg.arg, inspect.Parameter.VAR_KEYWORD, inspect.Parameter.empty))
    return [(name, kind, default if default is inspect.Parameter.empty else ast.literal_eval(default))
            for name, kind, default in params]


def runtime_parameters(obj):
    """[(name, kind, default)] of a runtime function. A reference operator wrapped by
    ``_with_layout`` also takes the wrapper's keyword-only arguments (``layout``)."""
    params = [(p.name, p.kind, p.default) for p in inspect.signature(obj).parameters.values()]
    if hasattr(obj, "__wrapped__"):
        inner = {name for name, _, _ in params}
        params += [(p.name, p.kind, p.default) for p in inspect.signature(obj, follow_wrapped=False).parameters.values()
                   if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in inner and p.name != "out"]
    return params


def signature_mismatches(qualname, overloads, runtime):
    """Ways the stub's overloads of one function depart from its runtime parameters. The last
    overload (the general one) must match exactly; every other has the same names in the same
    order, the same defaults where it gives one, and kinds no wider than the runtime's (an
    overload may make a parameter keyword-only, as return_indices=True is)."""
    problems = []
    last = stub_parameters(overloads[-1])
    if last != runtime:
        problems.append(f"{qualname}: stub {last} != runtime {runtime}")
    for i, fn in enumerate(overloads[:-1], 1):
        params = stub_parameters(fn)
        if [p[0] for p in params] != [p[0] for p in runtime]:
            problems.append(f"{qualname} overload {i}: names {[p[0] for p in params]} != {[p[0] for p in runtime]}")
            continue
        for (name, kind, default), (_, rkind, rdefault) in zip(params, runtime):
            if default is not inspect.Parameter.empty and default is not ... and default != rdefault:
                problems.append(f"{qualname} overload {i}: {name} defaults to {default!r}, runtime {rdefault!r}")
            if kind != rkind and not (kind is inspect.Parameter.KEYWORD_ONLY
                                      and rkind is inspect.Parameter.POSITIONAL_OR_KEYWORD):
                problems.append(f"{qualname} overload {i}: {name} is {kind}, runtime {rkind}")
    return problems


# --------------------------------------------------------------------------- stub files


def test_the_package_ships_py_typed_and_the_stubs():
    assert (PACKAGE / "py.typed").is_file()
    assert (PACKAGE / "py.typed").read_text() == ""
    for path in STUBS.values():
        assert path.is_file(), path


def test_every_public_name_is_in_the_stubs():
    stubs = load_stubs()
    for module_name, module in MODULES.items():
        stub = stubs[module_name]
        assert stub.all == list(module.__all__), f"{module_name}: the stub's __all__ differs from the runtime's"
        missing = [name for name in module.__all__ if not stub.defines(name)]
        assert not missing, f"{module_name} stub lacks {missing}"
    assert stubs["fastconv"].defines("__version__") and isinstance(fastconv.__version__, str)
    assert {"reference", "invariance"} <= stubs["fastconv"].reexports


def test_every_public_runtime_function_is_in_the_stubs():
    """Public functions outside __all__ too (the reference's blur backwards, imported with *)."""
    stubs = load_stubs()
    for module_name, module in MODULES.items():
        public = {name for name, obj in vars(module).items()
                  if not name.startswith("_") and inspect.isfunction(obj) and obj.__module__.startswith("fastconv")}
        missing = sorted(name for name in public if not stubs[module_name].defines(name))
        assert not missing, f"{module_name} stub lacks {missing}"


def test_stub_names_exist_at_run_time():
    for module_name, stub in load_stubs().items():
        declared = {name for name in set(stub.functions) | stub.reexports | stub.names
                    if not name.startswith("_") or name.startswith("__")}  # not the stubs' private aliases
        absent = sorted(name for name in declared if not hasattr(MODULES[module_name], name))
        assert not absent, f"{module_name} stub declares {absent}, which the module does not have"


def test_stub_signatures_match_the_runtime():
    stubs = load_stubs()
    problems, checked = [], 0
    for module_name, module in MODULES.items():
        stub = stubs[module_name]
        for name in sorted(set(stub.functions) | stub.reexports):
            obj = getattr(module, name)
            if inspect.ismodule(obj):
                continue
            # the reference stub re-exports fastconv's declarations: check them against the reference's functions
            overloads = stub.functions.get(name) or stubs["fastconv"].functions[name]
            problems += signature_mismatches(f"{module_name}.{name}", overloads, runtime_parameters(obj))
            checked += 1
    assert not problems, "\n".join(problems)
    assert checked >= len(fastconv.__all__) + len(reference.__all__) + len(invariance.__all__)


def test_the_signature_check_catches_a_wrong_default():
    fn = ast.parse("def f(x, stride: int = 2, *, layout: str = 'NCHW') -> None: ...").body[0]

    def f(x, stride=1, *, layout="NCHW"):
        pass

    assert signature_mismatches("f", [fn], runtime_parameters(f))
    assert not signature_mismatches("f", [ast.parse("def f(x, stride=1, *, layout='NCHW'): ...").body[0]],
                                    runtime_parameters(f))


# --------------------------------------------------------------------------- mypy


def run_mypy(path, cache):
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--cache-dir", str(cache),
                           str(path)], cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory):
    pytest.importorskip("mypy")
    return tmp_path_factory.mktemp("mypy_cache")


def test_example_passes_mypy_strict(mypy_cache):
    result = run_mypy(EXAMPLE, mypy_cache)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_stubs_and_the_command_pass_mypy_strict(mypy_cache):
    """The stubs themselves (no overlapping overloads, no missing type parameters) and
    __main__.py, from the source tree (mypy does not check files inside site-packages)."""
    source = ROOT / "src" / "fastconv"
    files = [source / name for name in ("__init__.pyi", "reference.pyi", "invariance.pyi", "__main__.py")]
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--cache-dir",
                             str(mypy_cache), *map(str, files)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_reads_the_stubs(mypy_cache, tmp_path):
    """Calls that break the stubs' types are errors: the stubs are what mypy checks against."""
    wrong = tmp_path / "wrong.py"
    wrong.write_text(textwrap.dedent("""\
        import numpy as np
        import numpy.typing as npt
        import fastconv
        x = np.ones((1, 2, 8, 8), np.float32)
        a: npt.NDArray[np.float64] = fastconv.conv2d(x, x)
        b = fastconv.conv2d(x, x, padding_mode="mirror")
        c: npt.NDArray[np.float32] = fastconv.max_pool2d(x, 2, return_indices=True)
        d = fastconv.conv2d_backward(x, x, x, needs=("inputs",))
        e = fastconv.reference.avg_pool2d(x, 2, layout="CHWN")
        f = fastconv.invariance.shift(x, 1, mode="reflect")
        """))
    result = run_mypy(wrong, mypy_cache)
    lines = {int(line.split(":")[1]) for line in result.stdout.splitlines() if ": error:" in line}
    assert lines == {5, 6, 7, 8, 9, 10}, result.stdout + result.stderr


def test_example_runs():
    result = subprocess.run([sys.executable, str(EXAMPLE)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "conv2d" in result.stdout and "blur_pool2d" in result.stdout


def test_example_calls_every_public_function():
    source = EXAMPLE.read_text()
    tree = ast.parse(source)
    called = {node.func.attr for node in ast.walk(tree)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and isinstance(node.func.value, ast.Name) and node.func.value.id == "fastconv"}
    assert not set(fastconv.__all__) - called, sorted(set(fastconv.__all__) - called)


# --------------------------------------------------------------------------- python -m fastconv


def test_python_m_fastconv():
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "fastconv"], capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - start
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert elapsed < 20, f"python -m fastconv took {elapsed:.1f} s"
    assert out.startswith(f"fastconv {fastconv.__version__}: convolution and pooling kernels"), out[:200]
    config = io.StringIO()
    with contextlib.redirect_stdout(config):
        fastconv.show_config()
    # show_config's lines but those that depend on this process: the thread count (its earlier
    # tests may set it) and the OpenMP runtime's path (another library may have loaded its own)
    for line in config.getvalue().splitlines():
        if not line.lstrip().startswith(("threads:", "OpenMP:")):
            assert line in out, line
    assert "  threads:   " in out and "  OpenMP:    " in out
    assert "FAIL" not in out
    assert out.count("  PASS  ") >= 20
    for family in ("conv2d  algorithm='winograd'", "conv2d  algorithm='direct'", "conv2d  algorithm='im2col'",
                   "max_pool2d", "blur_pool2d", "conv2d_backward"):
        assert family in out, family
    assert out.rstrip().splitlines()[-1].startswith("All ")


def test_python_m_fastconv_exits_1_on_a_wrong_result(monkeypatch, capsys):
    from fastconv import __main__ as cli

    monkeypatch.setattr(fastconv, "relu", lambda x: reference.relu(x) + 1)
    assert cli.main([]) == 1
    out = capsys.readouterr().out
    assert "  FAIL  relu" in out and "relu: " in out and "elements differ (expected exactly equal)" in out
    assert out.rstrip().splitlines()[-1].startswith("FAILED: 1 of ")


def test_python_m_fastconv_reports_a_crash_as_a_failure(monkeypatch):
    from fastconv import __main__ as cli

    def broken(*args, **kwargs):
        raise RuntimeError("kernel exploded")

    monkeypatch.setattr(fastconv, "max_pool2d", broken)
    out = io.StringIO()
    failures = cli.self_check(out)
    lines = out.getvalue().splitlines()
    failed = [line for line in lines if line.startswith("  FAIL  ")]
    assert failures == len(failed) >= 2
    assert all(line.startswith("  FAIL  max_pool2d") for line in failed[:2])
    assert out.getvalue().count("RuntimeError: kernel exploded") == failures
    assert lines[-1].startswith(f"FAILED: {failures} of ")
