"""The provenance box and the subset warning that every chapter shows."""

from __future__ import annotations

import datetime

import torch

from fmnist_edu import provenance, settings
from fmnist_edu.data import FashionMNIST, Split


def _dataset(n_train, n_test, tmp_path):
    def split(n):
        return Split(torch.zeros(n, 28, 28, dtype=torch.uint8), torch.arange(n) % 10)

    return FashionMNIST(split(n_train), split(n_test), tmp_path, "idx-gz", "abc")


def test_a_subset_is_said_near_the_results_and_in_the_box(subset):
    run = provenance.ChapterRun(subset, profile=settings.profile("quick"))
    note = run.subset_note()
    assert note.startswith(":::{admonition} Built from a subset of the data\n:class: warning\n")
    assert note.rstrip().endswith(":::")
    assert "3,615 of the 60,000 training images" in note
    assert "1,770 of the 10,000 test images" in note
    assert "a subset: 6.0% of the training" in run.facts()["images read"]


def test_the_full_release_gets_no_warning(tmp_path):
    run = provenance.ChapterRun(_dataset(60_000, 10_000, tmp_path))
    assert run.subset_note() == ""
    assert run.facts()["images read"].endswith("(the full release)")


def test_training_settings_only_on_pages_that_train(tmp_path):
    run = provenance.ChapterRun(_dataset(100, 50, tmp_path), profile=settings.profile("quick"))
    facts = run.facts()
    assert not {"profile", "device", "models"} & set(facts)
    run.count([type("R", (), {"from_store": True})])
    facts = run.facts()
    assert facts["profile"].startswith("quick (3 epochs")
    assert facts["models"] == "0 trained now, 1 from the results store"


def test_the_box_gives_date_and_commit(tmp_path, monkeypatch):
    run = provenance.ChapterRun(_dataset(100, 50, tmp_path))
    executed = run.facts()["executed"]
    assert executed.startswith(datetime.date.today().isoformat())
    commit = executed.split("commit ")[1]
    assert commit == "not a git checkout" or len(commit.split("+")[0]) >= 7
    monkeypatch.setattr(settings, "project_root", lambda: None)
    assert provenance.git_commit() == "not a git checkout"
    assert "| executed |" in run.box()


def test_the_subset_is_described_as_the_prefix_it_is(subset):
    extent = provenance.data_extent(subset)
    assert (extent.train, extent.test, extent.subset) == (3_615, 1_770, True)
    assert extent.prefix and not extent.balanced
    sentence = provenance.extent_sentence(subset)
    assert "read only 3,615 of the 60,000 training images and 1,770 of the 10,000" in sentence
    assert "a prefix rather than a stratified sample" in sentence
    low, high = extent.class_range
    assert f"{low:,} to {high:,} training images" in sentence and low < high - 1


def test_a_stratified_or_full_dataset_is_not_called_a_prefix(tmp_path):
    stratified = provenance.data_extent(_dataset(600, 100, tmp_path))  # labels cycle 0..9
    assert stratified.balanced and not stratified.prefix
    sentence = provenance.extent_sentence(_dataset(600, 100, tmp_path))
    assert "class balance" in sentence and "prefix" not in sentence
    full = provenance.extent_sentence(_dataset(60_000, 10_000, tmp_path))
    assert full == "This build read the full release: 60,000 training and 10,000 test images."
