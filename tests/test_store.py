"""The results store: atomic entries, damaged entries set aside, unwritable stores caught early."""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import time

import pytest
import torch

from fmnist_edu import records, settings
from fmnist_edu.errors import StoreError
from fmnist_edu.store import DAMAGED, ResultStore

STATE = {"w": torch.arange(6.0).reshape(2, 3)}
METRICS = {"accuracy": 0.5}
RAN = []


class Payload:
    """Unpickling this would run code: weights_only loading must refuse it."""

    def __reduce__(self):
        return (RAN.append, ("payload ran",))


def write_entry(store: ResultStore, key: str, weights: bytes, meta: object = None) -> None:
    """Write an entry whose JSON vouches for ``weights`` (a correct SHA-256)."""
    store.root.mkdir(parents=True, exist_ok=True)
    (store.root / f"{key}.pt").write_bytes(weights)
    meta = meta or {"weights_sha256": hashlib.sha256(weights).hexdigest(), "metrics": METRICS}
    (store.root / f"{key}.json").write_text(json.dumps(meta))


def test_save_then_load(store):
    store.save("k", METRICS, STATE)
    metrics, state = store.load("k")
    assert metrics == METRICS and torch.equal(state["w"], STATE["w"])
    assert store.load("absent") is None
    assert not list(store.root.glob("*.tmp"))


def _torch_bytes(tmp_path, obj) -> bytes:
    torch.save(obj, tmp_path / "obj.pt")
    return (tmp_path / "obj.pt").read_bytes()


def _torch_pickle_with_code(tmp_path) -> bytes:
    return _torch_bytes(tmp_path, {"w": torch.zeros(1), "x": Payload()})


@pytest.mark.parametrize(
    "weights, meta, problem",
    [
        (_torch_pickle_with_code, None, "UnpicklingError"),
        (lambda _: pickle.dumps(Payload(), protocol=2), None, "UnpicklingError"),
        (lambda _: b"not a zip file", None, "weights_only|Error"),
        (lambda tmp: _torch_bytes(tmp, [1, 2]), None, "state dict of tensors"),
        (lambda tmp: _torch_bytes(tmp, {"w": 1}), None, "state dict of tensors"),
        (lambda _: b"x", {"weights_sha256": "0" * 64, "metrics": {}}, "SHA-256"),
        (lambda _: b"x", {"weights_sha256": "0" * 64}, "no metrics"),
        (lambda _: b"x", [1, 2, 3], "no metrics"),
    ],
)
def test_a_damaged_entry_is_set_aside_with_one_warning(store, tmp_path, weights, meta, problem):
    write_entry(store, "k", weights(tmp_path), meta)
    with pytest.warns(UserWarning, match=problem) as caught:
        assert store.load("k") is None
    assert len(caught) == 1
    message = str(caught[0].message)
    assert str(store.root / "k.json") in message and "\n" not in message
    assert RAN == []  # the code in the pickle never ran
    assert not (store.root / "k.json").exists() and not (store.root / "k.pt").exists()
    kept = sorted(p.suffix for p in (store.root / DAMAGED).iterdir())
    assert kept == [".json", ".pt"]  # kept for inspection
    assert store.load("k") is None  # not retried: no second warning (pytest would fail)


def test_set_aside_twice_keeps_both_copies(store):
    for _ in range(2):
        store.save("k", METRICS, STATE)
        with pytest.warns(UserWarning, match="wrong"):
            store.set_aside("k", "wrong\ncontents")
    assert len(list((store.root / DAMAGED).glob("k-*.json"))) == 2


def test_a_store_path_that_is_a_file_is_caught_before_training(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a regular file")
    monkeypatch.setenv(settings.CACHE_ENV, str(blocker))
    store = ResultStore()
    with pytest.raises(StoreError) as info:
        store.check_writable()
    assert str(blocker) in str(info.value) and settings.CACHE_ENV in str(info.value)
    with pytest.raises(StoreError, match=settings.CACHE_ENV):
        store.save("k", METRICS, STATE)
    assert store.load("k") is None  # reading a store that cannot exist: simply absent
    assert blocker.read_text() == "a regular file"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_a_read_only_store_is_caught_before_training(tmp_path):
    store = ResultStore(tmp_path / "ro")
    store.root.mkdir()
    store.root.chmod(0o500)
    try:
        with pytest.raises(StoreError, match="cannot be written"):
            store.check_writable()
    finally:
        store.root.chmod(0o700)


def test_check_writable_creates_the_folder_and_leaves_nothing(tmp_path):
    store = ResultStore(tmp_path / "a" / "b")
    store.check_writable()
    assert store.root.is_dir() and not list(store.root.iterdir())


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_entries_get_the_permissions_of_the_umask(tmp_path, umask, mode):
    """A store shared by a group is readable as the umask intends, not mkstemp's 0600."""
    previous = os.umask(umask)
    try:
        ResultStore(tmp_path).save("k", {"m": 1}, {"w": torch.zeros(2)})
    finally:
        os.umask(previous)
    assert {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()} == {
        "k.json": mode,
        "k.pt": mode,
    }


def test_stored_numbers_must_be_finite_where_they_can_only_be():
    """JSON holds NaN and Infinity; only a diverged loss may be either."""
    epoch = {"epoch": 1, "loss": 0.5, "train_accuracy": 0.8, "val_accuracy": 0.7, "seconds": 1}
    for field, value in [
        ("seconds", math.inf),
        ("seconds", math.nan),
        ("seconds", -1.0),
        ("val_accuracy", math.nan),
        ("loss", -0.5),
        ("loss", -math.inf),
    ]:
        with pytest.raises(ValueError, match=rf"epochs\[0\].{field}=.*: not a finite number"):
            records.History.from_dict({"epochs": [epoch | {field: value}]})
    for loss in (math.nan, math.inf):
        assert records.History.from_dict({"epochs": [epoch | {"loss": loss}]}).epochs[0].loss != 0
    with pytest.raises(ValueError, match=r"train_seconds=inf: not a finite number in \[0, inf\]"):
        records.duration(json.loads("Infinity"), "metrics.train_seconds")
    assert records.duration(2, "s") == 2.0


def test_a_killed_writers_temporary_files_are_removed_once_stale(tmp_path):
    store = ResultStore(tmp_path)
    old, fresh = tmp_path / ".k.pt.abc123.tmp", tmp_path / ".j.json.def456.tmp"
    other = tmp_path / ".notes.tmp"  # not of our naming
    for path in (old, fresh, other):
        path.write_bytes(b"partial")
    two_hours_ago = time.time() - 7200
    for path in (old, other):
        os.utime(path, (two_hours_ago, two_hours_ago))
    store.check_writable()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".j.json.def456.tmp", ".notes.tmp"]
