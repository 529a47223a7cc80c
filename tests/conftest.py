"""Options shared by the whole test suite, and the on-disk cache of generated code kept in a
temporary directory for the session (tests never read or write ~/.cache; subprocesses the tests
start inherit it through the environment)."""
import os
import shutil
import tempfile

_CACHE = {}


def pytest_addoption(parser):
    parser.addoption("--fuzz-long", action="store_true", default=False,
                     help="run the differential fuzzer (tests/fuzz) on thousands of programs instead "
                          "of the CI budget; SOURCEAD_FUZZ=N sets the number explicitly")


def pytest_configure(config):
    folder = tempfile.mkdtemp(prefix="sourcead-test-cache-")
    _CACHE["previous"] = os.environ.get("SOURCEAD_CACHE_DIR")
    _CACHE["folder"] = folder
    os.environ["SOURCEAD_CACHE_DIR"] = folder


def pytest_unconfigure(config):
    folder = _CACHE.pop("folder", None)
    previous = _CACHE.pop("previous", None)
    if previous is None:
        os.environ.pop("SOURCEAD_CACHE_DIR", None)
    else:
        os.environ["SOURCEAD_CACHE_DIR"] = previous
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
