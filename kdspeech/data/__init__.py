"""Data layer: Kaldi-style data dirs, audio I/O, resampling and mixing."""
