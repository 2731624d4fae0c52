"""The WER/CER text normaliser of kdspeech.asr.text_norm: each documented rule, and agreement with the
metric's own normalisation."""

import pytest

from kdspeech.asr.text_norm import cardinal, normalize, ordinal, year
from kdspeech.metrics.transcript import normalize as metric_normalize


@pytest.mark.parametrize("text, expected", [
    # case and punctuation
    ("Sunday is the BEST part, of the week!", "sunday is the best part of the week"),
    ("Don't \"quote\" me -- 'please'.", "don't quote me please"),
    ("It\u2019s o\u2019clock \u2014 now", "it's o'clock now"),
    ("  spaced\tout\n", "spaced out"),
    ("", ""),
    ("...", ""),
    # cardinals, signs, decimals, separators, leading zeros
    ("175", "one hundred seventy five"),
    ("0", "zero"),
    ("13 and 40 and 99", "thirteen and forty and ninety nine"),
    ("1,000,000 people", "one million people"),
    ("2005", "two thousand five"),
    ("123456", "one hundred twenty three thousand four hundred fifty six"),
    ("-3 degrees", "minus three degrees"),
    ("pi is 3.14", "pi is three point one four"),
    ("call 0412", "call zero four one two"),
    # years and decades
    ("in 1928", "in nineteen twenty eight"),
    ("1900", "nineteen hundred"),
    ("1905", "nineteen oh five"),
    ("2024", "twenty twenty four"),
    ("the 1920s", "the nineteen twenties"),
    ("the 80s", "the eighties"),
    # ordinals
    ("the 1st, 2nd, 3rd and 4th", "the first second third and fourth"),
    ("21st 12th 20th 100th", "twenty first twelfth twentieth one hundredth"),
    # symbols
    ("100% of A&B", "one hundred percent of a and b"),
    ("$5.50 and $3", "five dollars fifty cents and three dollars"),
    ("2+2", "two plus two"),
    # spelled letters (AN4 references write them as separate capitals)
    ("So, the P-r-i-n-c-e", "so the p r i n c e"),
    ("U.S.A. today", "u s a today"),
    ("well-known e-mail", "well known e mail"),
    # moonshine hypotheses against the AN4 references
    ("You can One, five, oh, four, four.", "you can one five oh four four"),
    ("Cut March third, nineteen, twenty eight.", "cut march third nineteen twenty eight"),
])
def test_normalize(text, expected):
    assert normalize(text) == expected


def test_years_off_reads_cardinals():
    assert normalize("1928", years=False) == "one thousand nine hundred twenty eight"


def test_number_words():
    assert cardinal(7) == "seven" and cardinal(70) == "seventy" and cardinal(700) == "seven hundred"
    assert cardinal(1_000_001) == "one million one"
    assert cardinal(999_999_999_999).startswith("nine hundred ninety nine billion")
    assert ordinal(5) == "fifth" and ordinal(9) == "ninth" and ordinal(30) == "thirtieth"
    assert year(1066) == "ten sixty six"


@pytest.mark.parametrize("text", ["Hello, World! It's 5 o'clock.", "P-i-t-t 1st", "a_b 'x'"])
def test_fixed_point_of_metric_normaliser(text):
    # normalised text is left alone by the metric's normalisation and by a second pass
    once = normalize(text)
    assert metric_normalize(once) == once
    assert normalize(once) == once


def test_references_of_the_shared_corpora_are_fixed_points(corpora):
    # the corpora's transcripts are upper-case words: normalising them changes case only
    for subset in ("an4", "speechbrain", "mini_ljspeech"):
        for line in (corpora / "asr" / subset / "text").read_text().splitlines():
            words = line.split(maxsplit=1)[1]
            assert normalize(words) == words.lower(), (subset, line)
