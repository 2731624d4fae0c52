# TAU Urban Acoustic Scenes 2019 Mobile, development set (the dir holding meta.csv, audio/ and
# evaluation_setup/; from https://zenodo.org/record/2589332, not downloaded by this recipe).
tau2019mobile=${KDSPEECH_TAU2019MOBILE:-downloads/TAU-urban-acoustic-scenes-2019-mobile-development}
# What stage 1 reads, in its fingerprint (a file by content, a folder by its files' names, sizes and
# times): a changed list, an added or replaced clip or another path re-runs stage 1 and what follows.
data_inputs=("${tau2019mobile}/meta.csv" "${tau2019mobile}/evaluation_setup" "${tau2019mobile}/audio")
