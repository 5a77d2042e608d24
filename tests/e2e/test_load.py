"""A short run of scripts/load-duckdb: readers never see a value, row or error that
neither policy gives them while applies and monitor runs go on."""
import os

from load import run

APPLIES = int(os.environ.get("VEIL_LOAD_APPLIES", "4"))


def test_readers_under_load_see_a_or_b_and_nothing_else(built, tmp_path):
    counts, examples = run(built, tmp_path, applies=APPLIES, readers=8, monitor_every=2.0)
    print(counts)
    assert counts["violations"] == 0, examples
    assert counts["apply_errors"] == 0 and counts["monitor_errors"] == 0, examples
    assert counts["applies"] == APPLIES
    assert counts["answered"] > 0 and counts["refused"] > 0
    assert counts["monitor_rebinds"] > 0, "the transform job's column made veil monitor bind again"
