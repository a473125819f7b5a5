"""pytest pieces shared by the conftests of multi-process ensemble tests (tests/ensemble,
tests/upgrade): import them into a conftest.

    from pytest_ensemble import pytest_runtest_makereport, quiet_kazoo  # noqa: F401
"""

import logging

import pytest


def quiet_kazoo():
    """kazoo logs every reconnect at WARNING; the tests provoke thousands."""
    logging.getLogger("kazoo").setLevel(logging.ERROR)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the item (item.rep_call), so fixtures can tell a failed test
    at teardown and keep its ensemble's logs."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
