"""The command line (`python -m compiler`, the `sourcead` script): bad input is one line on stderr,
never a traceback, with exit status 2 for a command line that does not fit and 1 for a refusal.

Every case runs in a subprocess, as a user would; the runs of a test start together, to keep it fast.
"""
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MODEL = '''\
import math
import numpy as np


def loss(x, y):
    return math.sin(x) * y


def arr(w, X):
    return np.sum(np.tanh(X @ w))


def uses_lambda(x):
    squares = {t * t for t in (x,)}
    return x
'''


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "SOURCEAD_DEBUG"}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def run_all(commands, cwd, env=None):
    """Run `python -m compiler ARGS...` (or a full argv) for each command, at the same time."""
    procs = []
    for cmd in commands:
        argv = cmd if cmd and cmd[0] == sys.executable else [sys.executable, "-m", "compiler", *cmd]
        procs.append(subprocess.Popen(argv, cwd=cwd, env=env or _env(), text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        results.append((proc.returncode, out, err))
    return results


@pytest.fixture
def user_dir(tmp_path):
    (tmp_path / "model.py").write_text(MODEL)
    (tmp_path / "broken.py").write_text("def f(x:\n    return x\n")
    (tmp_path / "needs_missing.py").write_text(
        "import numpy\nimport sourcead_no_such_module_xyz\n\n\ndef f(x):\n    return x\n")
    (tmp_path / "sub").mkdir()
    return tmp_path


BAD = [
    # (arguments, exit status, words stderr must contain)
    (["check", "model.py:arr", "--args", "0.5", "1.0"], 2, ["arr", "TypeError", "model.py", "line 10", "array"]),
    (["check", "model.py:loss", "--args", "0.5"], 2, ["loss", "2 argument", "x, y", "--args 0.5 0.5"]),
    (["compare", "model.py:loss", "--args", "0.5", "1.0", "--wrt", "zz"], 2, ["--wrt zz", "loss", "x, y"]),
    (["show", "model.py:math"], 2, ["`math`", "model.py", "module", "not a function", "loss"]),
    (["show", "broken.py:f"], 1, ["broken.py", "line 1", "SyntaxError", "fix the file"]),
    (["show", "needs_missing.py:f"], 1, ["needs_missing.py", "line 2", "sourcead_no_such_module_xyz",
                                         "install"]),
    (["show", "sub:f"], 2, ["sub", "is a directory", "FILE.py:FUNC", "no .py file"]),
    (["show", "nowhere.py:f"], 2, ["no such file", "nowhere.py"]),
    (["show", "model.py"], 2, ["FILE.py:FUNC", "model.py:loss", "arr"]),
    (["show", "model.py:nope"], 2, ["model.py", "no function `nope`", "loss, arr, uses_lambda"]),
    (["check", "model.py:loss", "--args", "half", "1"], 2, ["--args", "'half'", "number", "--help"]),
    (["check", "model.py:loss"], 2, ["--args", "required"]),
    (["show", "model.py:arr", "--shapes", "X=3,4", "w=5"], 2, ["arr", "ValueError", "line 10", "--shapes"]),
    ([], 2, ["python -m compiler", "required", "--help"]),
]


def test_bad_input_is_one_line_saying_what_is_wrong(user_dir):
    results = run_all([args for args, _, _ in BAD], cwd=user_dir)
    for (args, status, words), (code, out, err) in zip(BAD, results):
        shown = f"python -m compiler {' '.join(args)} -> {code}\n{err}"
        assert code == status, shown
        assert "Traceback" not in err, shown
        assert len(err.strip().splitlines()) == 1, shown
        assert "error:" in err, shown
        for word in words:
            assert word in err, f"{word!r} missing: {shown}"


def test_compiler_refusal_prints_its_message_and_exits_1(user_dir):
    commands = [["show", "model.py:uses_lambda"],
                ["check", "model.py:uses_lambda", "--args", "0.5"],
                ["compare", "model.py:uses_lambda", "--args", "0.5"]]
    results = run_all(commands, cwd=user_dir)
    for args, (code, out, err) in zip(commands, results):
        shown = f"{args} -> {code}\n{err}"
        assert code == 1, shown
        assert "Traceback" not in err, shown
        assert "cannot differentiate uses_lambda" in err.splitlines()[0], shown
        assert str(user_dir / "model.py") in err and "line 14" in err and "lambda" in err, shown
        assert len(err.strip().splitlines()) <= 6, shown
    compare_out = results[2][1]
    assert "refused" in compare_out and "dynamic tape" in compare_out  # the table is still shown


def test_good_input_still_works(user_dir):
    commands = [["show", "model.py:arr", "--shapes", "X=3,4", "w=4"],
                ["check", "model.py:loss", "--args", "0.5", "1.5"],
                ["compare", "model.py:loss", "--args", "0.5", "1.5", "--wrt", "y"],
                ["show", "model.py:loss", "--jvp"],
                ["show", "model.py:arr", "--hessian", "--wrt", "w", "--shapes", "X=3,4", "w=4"]]
    results = run_all(commands, cwd=user_dir)
    for args, (code, out, err) in zip(commands, results):
        assert code == 0 and not err, f"{args} -> {code}\n{err}"
    assert "def make_arr_grad(" in results[0][1]
    assert "passed" in results[1][1]
    assert "gradients agree: yes" in results[2][1]
    assert "def make_loss_jvp(" in results[3][1] and "_dot" in results[3][1]
    assert "def make_arr_grad_jvp(" in results[4][1] and "w_dot" in results[4][1]


def test_internal_error_says_so_and_how_to_see_the_traceback(user_dir):
    script = textwrap.dedent("""
        import sys
        import compiler.__main__ as cli
        def broken(*args, **kwargs):
            raise KeyError("boom")
        cli.grad = broken
        sys.exit(cli.main(["show", "model.py:loss"], prog="python -m compiler"))
    """)
    argv = [sys.executable, "-c", script]
    (code, _, err), = run_all([argv], cwd=user_dir)
    assert code == 1, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "internal compiler error" in err and "KeyError" in err and "SOURCEAD_DEBUG=1" in err, err
    (code, _, err), = run_all([argv], cwd=user_dir, env=_env(SOURCEAD_DEBUG="1"))
    assert code != 0 and "Traceback" in err and "KeyError: 'boom'" in err, err


def test_demo_leaves_no_temporary_files(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    (code, out, err), = run_all([["demo"]], cwd=tmp_path,
                                env=_env(TMPDIR=str(scratch), TEMP=str(scratch), TMP=str(scratch)))
    assert code == 0, err
    assert "df/dx = -4.0" in out and "python -m compiler show FILE.py:FUNC" in out
    assert list(scratch.iterdir()) == []


def test_program_name_is_the_one_the_user_typed(user_dir):
    as_script = textwrap.dedent("""
        import sys
        from compiler.__main__ import main
        sys.argv[0] = "/usr/local/bin/sourcead"   # what the installed entry point's sys.argv[0] looks like
        sys.exit(main())
    """)
    results = run_all([["--help"],
                       [sys.executable, "-c", as_script, "--help"],
                       [sys.executable, "-c", as_script, "check", "model.py:loss", "--args", "x"],
                       ], cwd=user_dir)
    (code, out, _), (s_code, s_out, _), (e_code, _, e_err) = results
    assert code == 0 and out.startswith("usage: python -m compiler ")
    assert s_code == 0 and s_out.startswith("usage: sourcead ") and "python -m compiler" not in s_out
    assert e_code == 2 and e_err.startswith("sourcead check: error:") and "sourcead check --help" in e_err
    assert "python -m compiler" not in e_err


def test_output_cut_short_by_a_pipe_is_not_an_error():
    # `python -m compiler demo | head -1`: the reader leaves; no "internal compiler error"
    proc = subprocess.Popen([sys.executable, "-m", "compiler", "demo"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=os.path.dirname(os.path.dirname(
                                os.path.dirname(os.path.abspath(__file__)))))
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait() == 0 and "error" not in err, err
