import pytest

from benchmarks import quality


def test_quality_benchmark_says_what_data_it_needs(tmp_path):
    with pytest.raises(SystemExit, match="no horse2zebra at .*missing.*--data DIR"):
        quality.main(["--data", str(tmp_path / "missing")])


def test_quality_table_puts_the_untranslated_scores_first():
    values = {
        "domain_score_ab": 0.8,
        "domain_score_ba": 0.7,
        "cycle_l1_aba": 0.1,
        "cycle_l1_bab": 0.2,
        "domain_score_ab_untranslated": 0.1,
        "domain_score_ba_untranslated": 0.05,
    }
    header, untranslated, first, last = quality.format_table(
        [(0, 0.0, values), (2000, 3.5, values)], epoch_steps=1000
    ).splitlines()
    assert untranslated.split() == ["untranslated", "0.100", "0.050", "-", "-"]
    assert last.split() == ["2000", "2.0", "3.5", "0.800", "0.700", "0.100", "0.200"]


def test_step_profile_finds_the_convolutions_of_a_real_step(capsys):
    from benchmarks import profile_step

    profile_step.main(["--size", "32", "--steps", "1", "--top", "40"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("ours step at 32 px:")
    rows = {line.split()[0]: float(line.split()[2].rstrip("%")) for line in lines[2:-1]}
    # A training step runs convolutions forward and backward; the shares cover the step.
    assert any("Conv2DBackpropFilter" in op for op in rows)
    assert any(op.endswith("Conv2D") for op in rows)
    assert 99.0 <= sum(rows.values()) + float(lines[-1].split()[-1].rstrip("%")) <= 101.0
