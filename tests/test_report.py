"""The execution report: one row per executed page, now or from the cache, with its fingerprint."""

from __future__ import annotations

from fmnist_edu import report

START = 1_800_000_000.0


def test_rows_tell_executed_now_from_cached_and_split_the_fingerprint():
    exec_data = {
        "dataset": {"mtime": START - 3600, "runtime": 12.5, "succeeded": True},
        "architectures": {"mtime": START + 30, "runtime": 80.25, "succeeded": True},
        "broken": {"mtime": START + 40, "runtime": None, "succeeded": False},
    }
    fingerprints = {
        "dataset": "0123456789abcdef-no-data-quick",
        "architectures": "fedcba9876543210-5d41402abc4b2a76-full",
    }
    rows = report.rows(exec_data, fingerprints, START)
    assert [r.page for r in rows] == ["architectures", "broken", "dataset"]
    by_page = {r.page: r for r in rows}
    assert by_page["dataset"].executed == "from the cache"
    assert by_page["architectures"].executed == "now"
    assert by_page["dataset"].fingerprint == report.Fingerprint(
        "0123456789abcdef", "no-data", "quick"
    )
    assert by_page["architectures"].fingerprint.profile == "full"
    assert by_page["broken"].fingerprint == report.Fingerprint("?", "?", "?")
    assert not by_page["broken"].succeeded and by_page["broken"].seconds is None
    assert report.total_seconds(rows) == 92.75


def test_rows_follow_the_book_order_and_unknown_pages_come_last_by_name():
    exec_data = {page: {"mtime": START, "runtime": 1.0, "succeeded": True}
                 for page in ("zeta", "dataset", "alpha", "architectures")}  # fmt: skip
    rows = report.rows(exec_data, {}, START, order=["intro", "dataset", "architectures"])
    assert [r.page for r in rows] == ["dataset", "architectures", "alpha", "zeta"]


def test_data_extent_says_subset_or_full_release():
    subset = report.data_extent(3_615, 1_770)
    assert subset.startswith("a subset") and "3,615 of the 60,000" in subset and "17.7%" in subset
    assert report.data_extent(60_000, 10_000).startswith("the full Fashion-MNIST release")
    assert report.data_extent(60_000, 9_999).startswith("a subset")


def test_a_malformed_fingerprint_or_missing_time_still_gives_a_row():
    assert report.Fingerprint.parse("garbage") == report.Fingerprint("?", "?", "?")
    (row,) = report.rows({"page": {}}, {}, START)
    assert row.when == "?" and row.executed == "from the cache" and not row.succeeded
