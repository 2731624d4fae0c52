"""Text normaliser for WER/CER: the same rules applied to references and hypotheses.

``normalize(text)`` returns lower-case words separated by single spaces.  In order:

1. Unicode: NFKC, typographic apostrophes/quotes/dashes to ASCII (``’`` -> ``'``, ``–`` -> ``-``).
2. Case: everything lower case.
3. Symbols said aloud: ``%`` -> "percent", ``&`` -> "and", ``+`` -> "plus", ``$5.50`` -> "five dollars fifty cents",
   ``@`` -> "at".
4. Numbers to words (English, as spoken in read speech):
   - cardinals ``0`` .. ``999,999,999,999`` -> "one hundred seventy five" (no "and"; thousands
     separators ``1,000`` accepted); a leading ``-`` is "minus";
   - decimals ``3.14`` -> "three point one four";
   - ordinals ``1st 2nd 3rd 4th 21st`` -> "first second third fourth twenty first";
   - four-digit years 1100..1999 and 2010..2099 read as pairs when the word "year"-like reading
     is the usual one: ``1928`` -> "nineteen twenty eight", ``1900`` -> "nineteen hundred",
     ``2005`` stays "two thousand five" (set ``years=False`` to read every number as a cardinal);
   - a digit string with a leading zero (``0412``) is read digit by digit ("zero four one two").
   Decades such as ``1920s`` -> "nineteen twenties", ``80s`` -> "eighties".
5. Spelled-out letters: a token of single letters joined by hyphens or dots (``P-i-t-t``,
   ``U.S.A.``) becomes the separate letters ("p i t t", "u s a"), as AN4-style references write them.
6. Punctuation: every character that is not a letter, a digit or an apostrophe inside a word becomes
   a space (so "don't" and "o'clock" stay one word, quotes around a word go); spaces collapse.

Rule 6 is the rule of ``kdspeech.metrics.transcript.normalize``: text normalised here is unchanged
by it, so a backend can normalise its hypotheses here while the metric normalises references.
"""

import re
import unicodedata

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
         "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**9, "billion"), (10**6, "million"), (10**3, "thousand"))
_ORDINAL_WORDS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                  "nine": "ninth", "twelve": "twelfth"}
_SYMBOLS = {"%": " percent ", "&": " and ", "+": " plus ", "@": " at "}
_ASCII = {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"',
          "\u2013": "-", "\u2014": " - ", "\u2212": "-"}

_NOT_WORD = re.compile(r"[^\w']+|(?<!\w)'|'(?!\w)|_")
_SPELLED = re.compile(r"(?<![\w'])(?:[^\W\d_][-.]){1,}[^\W\d_]\.?(?![\w'])")
_DOLLARS = re.compile(r"\$\s*(\d[\d,]*(?:\.\d+)?)")
_ORDINAL = re.compile(r"(?<![\w.])(\d+)(st|nd|rd|th)\b")
_DECADE = re.compile(r"(?<![\w.])(\d{1,3})0s\b")
_NUMBER = re.compile(r"(?<![\w.])(-?)(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?![\d])")


def cardinal(n):
    """Words of a non-negative integer below 10**12 ("one hundred seventy five")."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + cardinal(rest))
    for value, name in _SCALES:
        if n >= value:
            if n // value >= 1000:
                break
            rest = n % value
            return cardinal(n // value) + " " + name + ("" if rest == 0 else " " + cardinal(rest))
    return " ".join(_ONES[int(d)] for d in str(n))  # too large: digit by digit


def year(n):
    """A year read as two pairs ("nineteen twenty eight", "nineteen hundred", "nineteen oh five")."""
    high, low = divmod(n, 100)
    if low == 0:
        return cardinal(high) + " hundred"
    if low < 10:
        return cardinal(high) + " oh " + _ONES[low]
    return cardinal(high) + " " + cardinal(low)


def ordinal(n):
    """Words of an ordinal ("twenty first")."""
    words = cardinal(n).split()
    last = words[-1]
    if last in _ORDINAL_WORDS:
        words[-1] = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def _is_year(digits):
    if len(digits) != 4 or digits[0] == "0":
        return False
    n = int(digits)
    return 1100 <= n <= 1999 or 2010 <= n <= 2099


def _number(match, years):
    sign, whole, frac = match.group(1), match.group(2), match.group(3)
    digits = whole.replace(",", "")
    if len(digits) > 1 and digits[0] == "0" and "," not in whole:
        words = " ".join(_ONES[int(d)] for d in digits)
    elif years and not sign and frac is None and "," not in whole and _is_year(digits):
        words = year(int(digits))
    else:
        words = cardinal(int(digits))
    if frac is not None:
        words += " point " + " ".join(_ONES[int(d)] for d in frac)
    return " " + ("minus " if sign else "") + words + " "


def _decade(match):
    stem = match.group(1) + "0"
    words = (year(int(stem)) if _is_year(stem) else cardinal(int(stem))).split()
    last = words[-1]
    words[-1] = last[:-1] + "ies" if last.endswith("y") else last + "s"
    return " " + " ".join(words) + " "


def _dollars(match):
    whole, _, cents = match.group(1).partition(".")
    out = " " + whole + " dollars "
    if cents and int(cents):
        out += cardinal(int(cents[:2].ljust(2, "0"))) + " cents "
    return out


def normalize(text, years=True):
    """The normalised form of ``text`` (rules in the module docstring); ``""`` for no words."""
    text = unicodedata.normalize("NFKC", text)
    for char, repl in _ASCII.items():
        text = text.replace(char, repl)
    text = text.lower()
    text = _SPELLED.sub(lambda m: " " + " ".join(c for c in m.group(0) if c.isalpha()) + " ", text)
    text = _DOLLARS.sub(_dollars, text)
    for char, repl in _SYMBOLS.items():
        text = text.replace(char, repl)
    text = _ORDINAL.sub(lambda m: " " + ordinal(int(m.group(1))) + " ", text)
    text = _DECADE.sub(_decade, text)
    text = _NUMBER.sub(lambda m: _number(m, years), text)
    return " ".join(_NOT_WORD.sub(" ", text).split())
