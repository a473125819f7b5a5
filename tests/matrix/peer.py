"""Peer test suites (placeholder, filled in below)."""


def run_all(impl, out_dir):
    return {}


def report(runs):
    return []
