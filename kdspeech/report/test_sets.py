"""The section "Test sets" of a RESULTS.md: what each test set holds and, for a set of your own that
lacks what a table needs (a clean reference, input SNRs), what was left out for it and why.

    section = test_sets_section({"test_seen": "dump/mix/test_seen", "mine": "dump/test/mine"})

``None`` when every set has everything (the recipes' own mixture sets), so that their RESULTS.md
files keep their layout.
"""

from pathlib import Path

from kdspeech.results import markdown_table

#: File of a data dir -> (column heading, what its absence leaves out).
NEEDS = {
    "spk1.scp": ("clean reference", "no clean reference (spk1.scp): the intrusive metrics (PESQ, STOI, SI-SDR...) "
                                    "are not computed; scored by the non-intrusive DNSMOS (and WER/CER where it "
                                    "has a text)"),
    "utt2snr": ("input SNR", "no input SNRs (utt2snr): left out of everything by input SNR (tables, plots, "
                             "comparisons, a recipe's SNR ranges such as its teachers')"),
}


def _count(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return sum(1 for line in handle if line.strip())
    except OSError:
        return None


def test_sets_section(sets, needs=None):
    """``(title, markdown)`` describing ``sets`` (``{name: data dir}``), or ``None`` when none lacks a
    file of ``needs`` (``{file: (heading, what its absence leaves out)}``, default ``NEEDS``)."""
    needs = NEEDS if needs is None else needs
    lacking = {name: [f for f in needs if not (Path(d) / f).is_file()] for name, d in sets.items()}
    if not any(lacking.values()):
        return None
    rows = []
    for name, d in sets.items():
        d = Path(d)
        rows.append([name, f"`{d}`", _count(d / "wav.scp"),
                     *("yes" if (d / f).is_file() else "no" for f in needs),
                     "yes" if (d / "text").is_file() else "no"])
    table = markdown_table(["set", "data dir", "utts", *(h for h, _ in needs.values()), "text"], rows)
    notes = [f"- {name}: " + "; ".join(needs[f][1] for f in missing) + "."
             for name, missing in lacking.items() if missing]
    return "Test sets", table + "\n\n" + "\n".join(notes)
