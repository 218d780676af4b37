import os

from components.pusher.executor import directory_fingerprint, push, versions


def _model(path, content: bytes):
    os.makedirs(os.path.join(path, "variables"), exist_ok=True)
    with open(os.path.join(path, "saved_model.pb"), "wb") as file:
        file.write(content)
    with open(os.path.join(path, "variables", "variables.index"), "wb") as file:
        file.write(content * 2)
    return str(path)


def test_push_renames_a_complete_version_into_place(tmp_path):
    base = str(tmp_path / "serving" / "cyclegan")
    version_dir, new = push(_model(tmp_path / "m1", b"one"), base)
    assert new and os.path.dirname(version_dir) == base
    assert os.listdir(base) == [os.path.basename(version_dir)]  # no staging left behind
    assert directory_fingerprint(version_dir) == directory_fingerprint(str(tmp_path / "m1"))


def test_repush_of_the_same_model_creates_no_new_version(tmp_path):
    base = str(tmp_path / "cyclegan")
    first, _ = push(_model(tmp_path / "m1", b"one"), base)
    again, new = push(_model(tmp_path / "copy", b"one"), base)
    assert (again, new) == (first, False)
    second, new = push(_model(tmp_path / "m2", b"two"), base)
    assert new and int(os.path.basename(second)) > int(os.path.basename(first))
    assert versions(base) == [int(os.path.basename(first)), int(os.path.basename(second))]


def test_versions_ignore_non_numeric_entries(tmp_path):
    for name in ("12", ".incoming-13", "notes", "7"):
        (tmp_path / name).mkdir()
    assert versions(str(tmp_path)) == [7, 12]
