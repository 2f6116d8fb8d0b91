"""The model registry and the ``iomodels`` command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from iomodels.cli import COMMANDS
from servers.registry import MODELS, SIZING_FLAGS, UnknownModel, load_model, models_taking
from tests.helpers import skip_unavailable


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iomodels", *args], capture_output=True, text=True, timeout=60
    )


def test_every_model_that_can_run_here_has_a_serve_function() -> None:
    for name, info in MODELS.items():
        if info.unavailable() is None:
            assert callable(load_model(name).serve)


def test_unknown_model_error_lists_models() -> None:
    with pytest.raises(UnknownModel) as info:
        load_model("coroutines")
    for name in MODELS:
        assert name in str(info.value)


@pytest.mark.parametrize("name", [n for n in MODELS if n != "gevent"])
def test_loading_a_model_never_imports_gevent(name: str) -> None:
    skip_unavailable(name)
    code = f"import sys; from servers.registry import load_model; load_model({name!r}); print('gevent' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "False"


def test_models_command_lists_every_model() -> None:
    out = run_cli("models")
    assert out.returncode == 0
    assert [line.split()[0] for line in out.stdout.splitlines()] == list(MODELS)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "out of range"),
        (["--port", "http"], "not an integer"),
        (["--protocol", "ftp"], "invalid choice"),
        (["--graceful-timeout", "0"], "out of range"),
    ],
)
def test_bad_flags_get_a_clear_error(args: list[str], message: str) -> None:
    out = run_cli("serve", *args)
    assert out.returncode == 2 and message in out.stderr


def test_port_in_use_is_explained() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = run_cli("serve", "--model", "asyncio", "--port", str(port))
    assert out.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr and "--port 0" in out.stderr


@pytest.mark.parametrize(
    ("model", "flag", "applies_to"),
    [
        ("asyncio", "--workers", "multiprocess, prefork"),
        ("prefork", "--threads", "threadpool"),
        ("thread", "--threads", "threadpool"),
        ("prefork", "--max-connections", "threadpool"),
    ],
)
def test_a_flag_the_model_ignores_is_refused(model: str, flag: str, applies_to: str) -> None:
    out = run_cli("serve", "--model", model, "--port", "0", flag, "4")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"iomodels serve: error: {flag} does not apply to model {model!r}; "
        f"it applies to: {', '.join(models_taking(flag))}"
    ]
    assert applies_to in out.stderr


@pytest.mark.parametrize("flag", ["--workers", "--threads", "--max-connections"])
def test_a_pool_of_zero_is_refused(flag: str) -> None:
    out = run_cli("serve", "--model", "threadpool", flag, "0")
    assert out.returncode == 2 and f"argument {flag}: 0 is out of range" in out.stderr


def test_every_sizing_flag_applies_to_some_model() -> None:
    for flag in SIZING_FLAGS:
        assert models_taking(flag), flag
    assert all(info.flags <= set(SIZING_FLAGS) for info in MODELS.values())


def test_a_wrong_flag_gets_the_usage_of_its_command() -> None:
    out = run_cli("serve", "--bogus")
    assert out.returncode == 2
    assert out.stderr.startswith("usage: iomodels serve ")
    assert out.stderr.rstrip().endswith("iomodels serve: error: unrecognized arguments: --bogus")


def test_unknown_command_names_the_choices() -> None:
    out = run_cli("serv")
    assert out.returncode == 2 and "invalid choice: 'serv'" in out.stderr
    assert all(f"'{name}'" in out.stderr for name in COMMANDS)


def test_top_level_help_lists_every_command_and_imports_none() -> None:
    code = (
        "import sys\n"
        "from iomodels import cli\n"
        "try:\n"
        "    cli.main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('servers', 'clients', 'loadtests')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    help_text, imported = out.stdout.rstrip().rsplit("\n", 1)
    for name, (_, summary) in COMMANDS.items():
        assert name in help_text and summary.split()[0] in help_text
    assert imported == "[]"
