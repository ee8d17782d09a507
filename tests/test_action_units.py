"""Action units parsed from the owners' AU strings and kept on every record."""

from __future__ import annotations

from mol_core.datasets import load, records_to_table, table_to_records
from mol_core.datasets.__main__ import main as datasets_main
from mol_core.datasets.action_units import ActionUnit, format_action_units, parse_action_units
from mol_core.datasets.records import VideoRecord

from .fake_datasets import write_casme2, write_samm


def test_side_intensity_and_uncertainty_are_kept_apart_from_the_number():
    units, not_understood = parse_action_units("4+R12B+ L14 , AU7(k)+T18+b23+AU10c")
    assert units == (
        ActionUnit(4),
        ActionUnit(12, side="R", intensity="B"),
        ActionUnit(14, side="L"),
        ActionUnit(7, uncertain=True),
        ActionUnit(18, side="T"),
        ActionUnit(23, side="B"),
        ActionUnit(10, intensity="C"),
    )
    assert not_understood == []
    assert format_action_units(units) == "4+R12B+L14+7(k)+T18+B23+10C"
    assert parse_action_units(format_action_units(units))[0] == units


def test_empty_codes_full_width_commas_and_text_that_is_not_an_au():
    assert parse_action_units("/") == ((), [])
    assert parse_action_units(None) == ((), [])
    assert parse_action_units(float("nan")) == ((), [])
    assert parse_action_units("4\uff0c7") == ((ActionUnit(4), ActionUnit(7)), [])  # CAS(ME)^3 part C's full-width comma
    units, not_understood = parse_action_units("R14+17+soft focus")  # SAMM 026_5_1: a descriptor, not an AU
    assert units == (ActionUnit(14, side="R"), ActionUnit(17)) and not_understood == ["soft focus"]


def test_samm_notation_as_its_key_defines_it():
    """Strings of the owners' SAMM v2 file: A asymmetric, '/' or inside an AU, 'X or Y'
    alternative AUs, ref(X); each reads back from its canonical text."""
    cases = {
        "A9+12": (ActionUnit(9, side="A"), ActionUnit(12)),
        "10A/B": (ActionUnit(10, intensity="A/B"),),
        "A/L12": (ActionUnit(12, side="A/L"),),
        "(R6 or R12) + R15": (ActionUnit(6, side="R", alternative=1), ActionUnit(12, side="R", alternative=1), ActionUnit(15, side="R")),
        "R14A or 17A or 24A": (
            ActionUnit(14, "R", "A", alternative=1),
            ActionUnit(17, intensity="A", alternative=1),
            ActionUnit(24, intensity="A", alternative=1),
        ),
        "ref(L10)+A12B": (ActionUnit(10, side="L", qualifier="ref"), ActionUnit(12, side="A", intensity="B")),
        "4D+ref(6)+7C+43E": (
            ActionUnit(4, intensity="D"),
            ActionUnit(6, qualifier="ref"),
            ActionUnit(7, intensity="C"),
            ActionUnit(43, intensity="E"),
        ),
        "L12 or L14+R12 or R14": tuple(ActionUnit(n, side=s, alternative=g) for g, s in ((1, "L"), (2, "R")) for n in (12, 14)),
    }
    for text, expected in cases.items():
        units, not_understood = parse_action_units(text)
        assert (units, not_understood) == (expected, []), text
        assert parse_action_units(format_action_units(units)) == (units, []), text
    assert format_action_units(cases["(R6 or R12) + R15"]) == "R6 or R12+R15"
    assert {unit.number for unit in cases["ref(L10)+A12B"]} == {10, 12}


def test_records_keep_action_units_and_old_records_still_build(tmp_path):
    videos = [
        {"subject": 1, "video": "EP01_01", "onset": 1, "apex": 2, "offset": 3, "emotion": "happiness", "au": "R12+6"},
        {"subject": 2, "video": "EP02_01", "onset": 1, "apex": 2, "offset": 3, "emotion": "disgust", "au": "4+L9"},
    ]
    records = {r.video: r for r in load("casme2", write_casme2(tmp_path, videos))}
    assert records["EP01_01"].action_units == (ActionUnit(12, side="R"), ActionUnit(6))
    assert records["EP01_01"].au_numbers == {6, 12} and records["EP02_01"].au_numbers == {4, 9}
    table = records_to_table(list(records.values()))
    assert table.action_units.tolist() == ["R12+6", "4+L9"]
    assert table_to_records(table) == list(records.values())
    old_table = table.drop(columns="action_units")  # a video table written before AUs were kept
    assert [r.action_units for r in table_to_records(old_table)] == [(), ()]
    positional = VideoRecord("casme2", "sub01", "EP01_01", "happiness", 0, 1, 2, 3, ["a.jpg"])
    assert positional.action_units == () and positional.au_numbers == frozenset()


def test_check_counts_action_units_and_notes_text_it_cannot_read(tmp_path, capsys):
    videos = [
        {"subject": 6, "video": "006_1_2", "onset": 1, "apex": 2, "offset": 3, "emotion": "Happiness", "au": "R12 or R15+soft focus"},
        {"subject": 6, "video": "006_1_3", "onset": 1, "apex": 2, "offset": 3, "emotion": "Anger", "au": "4+7+R12"},
        {"subject": 7, "video": "007_1_1", "onset": 1, "apex": 2, "offset": 3, "emotion": "Anger", "au": "4"},
    ]
    root = write_samm(tmp_path, videos)
    assert datasets_main(["check", "samm", str(root)]) == 0  # AU text it cannot read is a note, not a problem
    out = capsys.readouterr().out
    assert "action units (videos): AU4 2, AU7 1, AU12 2, AU15 1" in out
    assert "notes: 3" in out  # and SAMM's two errata, for rows this file does not have
    assert "006/006_1_2: AU text ['soft focus'] of 'R12 or R15+soft focus' not understood (kept: R12 or R15)" in out
    assert f"coding file: {root / 'SAMM_Micro_FACS_Codes_v2.xlsx'}" in out


def test_synthetic_records_carry_the_generator_action_units(clean_dataset):
    coding = {r.video: r for r in load("synthetic", clean_dataset)}
    expected = {"happiness": {12}, "disgust": {4, 9}, "repression": {24}, "surprise": {1, 2}, "others": set()}
    assert {r.emotion: set(r.au_numbers) for r in coding.values()} == expected
