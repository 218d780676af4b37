"""cyclegan-serving: list, roll back, promote, prune the versions the Pusher wrote."""

import pytest

from client import serving
from cyclegan import serving_dir
from tests.test_pusher import _model


@pytest.fixture
def base(tmp_path):
    base = str(tmp_path / "cyclegan")
    for index, label in enumerate(["stable", "stable", "canary"]):
        metrics = {"cycle_l1_aba": 0.1 * (index + 1), "domain_score_ab": 0.5 + 0.1 * index}
        serving_dir.push(
            _model(tmp_path / f"m{index}", bytes([65 + index])),
            base,
            label=label,
            record={"metrics": metrics, "blessed": True},
        )
    return base


def _run(capsys, *argv):
    code = serving.main(list(argv))
    printed = capsys.readouterr()
    return code, printed.out, printed.err


def test_list_shows_labels_and_metrics_newest_first(base, capsys):
    v1, v2, v3 = serving_dir.versions(base)
    code, out, _ = _run(capsys, "--base", base, "list")
    header, *rows = out.splitlines()
    assert code == 0 and header.split()[:3] == ["version", "labels", "pushed"]
    assert [row.split()[:2] for row in rows] == [
        [str(v3), "canary"],
        [str(v2), "stable"],
        [str(v1), "-"],
    ]
    assert "0.3000" in rows[0] and "0.7000" in rows[0] and "yes" in rows[0]


def test_rollback_promote_and_prune(base, capsys):
    v1, v2, v3 = serving_dir.versions(base)
    assert _run(capsys, "--base", base, "rollback", "--to", str(v1))[0] == 0
    assert serving_dir.read_state(base).labels == {"stable": v1, "canary": v3}
    assert serving_dir.stable_version(base).number == v1  # the Evaluator's next baseline

    code, _, err = _run(capsys, "--base", base, "rollback", "--to", "5")
    assert code == 2 and f"error: version 5 is not in {base}" in err

    assert _run(capsys, "--base", base, "promote")[0] == 0
    assert serving_dir.read_state(base).labels == {"stable": v3}
    code, _, err = _run(capsys, "--base", base, "promote")
    assert code == 2 and "no version is labelled canary" in err

    code, out, _ = _run(capsys, "--base", base, "prune", "--keep", "1")
    assert code == 0 and out.strip() == f"removed versions {[v1, v2]}"
    assert serving_dir.versions(base) == [v3]


def test_a_missing_directory_is_one_line(tmp_path, capsys):
    code, _, err = _run(capsys, "--base", str(tmp_path / "nothing"), "list")
    assert code == 2 and err.strip() == f"error: no serving directory {tmp_path / 'nothing'}"


def test_a_rollback_with_a_relative_base_keeps_the_path_absolute(base, capsys, monkeypatch):
    import os

    v1 = serving_dir.versions(base)[0]
    monkeypatch.chdir(os.path.dirname(base))
    assert _run(capsys, "--base", os.path.basename(base), "rollback", "--to", str(v1))[0] == 0
    with open(os.path.join(base, serving_dir.MODEL_CONFIG_FILE)) as file:
        assert f'base_path: "{base}"' in file.read()  # as TF Serving must find it
