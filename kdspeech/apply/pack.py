"""``kdspeech pack`` and ``kdspeech info``: a trained system as one file, and what such a file holds."""

import json

PACK_DOC = """Pack a trained system into one file (kdspeech.packing.pack).

    kdspeech pack exp/student_s2 student_s2.zip
    kdspeech pack exp/fold1/basd_1000 cls.zip --view_rate 1000 --duration 5 --classes data/all/classes.txt
    kdspeech pack pretrained:deepfilternet3 exp/deepfilternet3/model.zip --sr 16000

The file holds the model card (task, sample rate, input and output, classes, weights: best.pth or the
average of the n best epochs, recipe, commit, stage and data fingerprints, the scores found beside the
exp dir), the weights, config.yaml and env.json.  kdspeech.load("student_s2.zip") and every kdspeech
subcommand read it.  Options give what the exp dir does not say (a classifier's feature view when its
feature dump is gone, the rate of a config without data.sr).  A pretrained network packs as a card that
names its loader and file (kdspeech.packing.pretrained), e.g. to score it as a recipe's system.
"""

INFO_DOC = """Print the model card of a packed model or an exp dir (JSON).

    kdspeech info student_s2.zip
    kdspeech info pretrained:resemblyzer
"""


def add_pack_arguments(p):
    p.add_argument("exp_dir", help="exp dir of a training (config.yaml, best.pth), or a pretrained network: "
                   "pretrained:deepfilternet3 | pretrained:resemblyzer | pretrained:ecapa:<checkpoint>")
    p.add_argument("out", help="packed file to write (.zip)")
    p.add_argument("--sr", type=int, help="sample rate of the model's input (default: the config's data.sr)")
    p.add_argument("--view_rate", type=int,
                   help="classifier: microphone rate of its view (default: from its feature dump)")
    p.add_argument("--duration", type=float, help="classifier: clip seconds (default: from its feature dump)")
    p.add_argument("--classes", help="classifier: class list file (default: the training data's classes.txt)")


def run_pack(args):
    from kdspeech.apply.runner import say
    from kdspeech.packing.pack import pack

    overrides = {k: getattr(args, k) for k in ("sr", "view_rate", "duration", "classes") if getattr(args, k)}
    card = pack(args.exp_dir, args.out, overrides)
    prov = card["provenance"]
    if "pretrained" in card:
        say(f"{args.out}: {card['model']['name']} ({card['task']}, {card['sr']} Hz), pretrained: the card "
            f"refers to {card['pretrained']['path']}")
        return 0
    say(f"{args.out}: {card['model']['name']} ({card['task']}, {card['sr']} Hz, "
        f"{card['model']['parameters']} parameters) from {prov['exp_dir']}"
        + (f", commit {prov['commit']}" if prov.get("commit") else "")
        + (f", scores of {', '.join(card['scores'])}" if card["scores"] else ""))
    return 0


def add_info_arguments(p):
    p.add_argument("model", help="packed model (.zip), exp dir or pretrained:<name>[:<file>]")


def run_info(args):
    from kdspeech.packing.describe import describe
    from kdspeech.packing.load import is_packed, read_card

    from kdspeech.packing import pretrained

    if pretrained.is_pretrained(args.model):
        card = pretrained.card_of(pretrained.spec_of(args.model))
    else:
        card = read_card(args.model) if is_packed(args.model) else describe(args.model)
    print(json.dumps(card, indent=1))
    return 0
