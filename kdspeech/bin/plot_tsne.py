"""t-SNE of speaker embeddings of several models in one map (the paper's Fig. 2), as a PNG.

    python -m kdspeech.bin.plot_tsne --emb teacher=exp/teacher/emb_tsne/emb.npz \\
        --emb student=exp/student/emb_tsne/emb.npz --utt2spk dump/raw/tsne/utt2spk \\
        --speakers 10 --out results/tsne.png

Every ``--emb`` table (``keys``, ``emb``; ``kdspeech.bin.embed``) gives a marker shape, every speaker
a colour.  The first ``--speakers`` speakers of ``utt2spk`` (sorted) are drawn; tables of unequal
dimension are each placed in one joint map only when their dimensions agree, otherwise one panel per
table (``--joint false`` always draws panels).  Unit-normalised embeddings, scikit-learn's TSNE with
a fixed ``--seed`` and a perplexity capped below the number of points.
"""

import argparse
import logging

import numpy as np

from kdspeech.cli import run_main
from kdspeech.data.datadir import read_kv
from kdspeech.errors import KdError

log = logging.getLogger("kdspeech.plot_tsne")


def tsne(x, seed, perplexity=30.0):
    from sklearn.manifold import TSNE

    perplexity = min(perplexity, max(2.0, (len(x) - 1) / 3.0))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--emb", action="append", required=True, metavar="NAME=NPZ")
    p.add_argument("--utt2spk", required=True)
    p.add_argument("--speakers", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--joint", default="true", choices=("true", "false"))
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    from kdspeech.bin.score_trials import read_embeddings
    from kdspeech.plot import MARKERS, _save_png, plt

    utt2spk = read_kv(args.utt2spk)
    speakers = sorted(set(utt2spk.values()))[:args.speakers]
    tables = []
    for entry in args.emb:
        name, sep, path = entry.partition("=")
        if not sep:
            raise KdError(f"--emb '{entry}': expected NAME=NPZ")
        table = read_embeddings(path)
        utts = sorted(u for u in table if utt2spk.get(u) in speakers)
        if len(utts) < 3:
            raise KdError(f"only {len(utts)} embedded utterances of the {len(speakers)} speakers", path=path)
        tables.append((name, utts, np.stack([table[u] for u in utts])))
    dims = {t[2].shape[1] for t in tables}
    joint = args.joint == "true" and len(dims) == 1
    colours = {s: plt.cm.tab10(i % 10) for i, s in enumerate(speakers)}
    if joint:
        points = tsne(np.concatenate([t[2] for t in tables]), args.seed)
        fig, axes = plt.subplots(1, 1, figsize=(7, 6))
        axes = [axes] * len(tables)
        starts = np.cumsum([0] + [len(t[1]) for t in tables])
        maps = [points[starts[i]:starts[i + 1]] for i in range(len(tables))]
    else:
        fig, axes = plt.subplots(1, len(tables), figsize=(6 * len(tables), 5.5), squeeze=False)
        axes = list(axes[0])
        maps = [tsne(t[2], args.seed) for t in tables]
    for i, ((name, utts, _), xy) in enumerate(zip(tables, maps)):
        ax = axes[i]
        for s in speakers:
            idx = [k for k, u in enumerate(utts) if utt2spk[u] == s]
            if idx:
                ax.scatter(xy[idx, 0], xy[idx, 1], c=[colours[s]], marker=MARKERS[i % len(MARKERS)], s=28,
                           label=f"{name} {s}" if joint else s, alpha=0.8)
        ax.set_xticks([]), ax.set_yticks([])
        if not joint:
            ax.set_title(name)
    title = " vs ".join(t[0] for t in tables) if joint else None
    if joint:
        axes[0].set_title(f"t-SNE, {title} (marker: model, colour: speaker)")
        axes[0].legend(fontsize=6, ncol=2, loc="best")
    else:
        axes[-1].legend(fontsize=6, loc="best")
    _save_png(fig, args.out)
    log.info("t-SNE of %d speakers, %s -> %s", len(speakers), ", ".join(t[0] for t in tables), args.out)
    return 0


if __name__ == "__main__":
    run_main(main)
