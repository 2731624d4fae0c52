# Corpus locations.  The mini recipe synthesises its corpus (espeak-ng, sox) and needs none.
