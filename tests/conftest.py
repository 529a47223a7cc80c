"""Options shared by the whole test suite."""


def pytest_addoption(parser):
    parser.addoption("--fuzz-long", action="store_true", default=False,
                     help="run the differential fuzzer (tests/fuzz) on thousands of programs instead "
                          "of the CI budget; SOURCEAD_FUZZ=N sets the number explicitly")
