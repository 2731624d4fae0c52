# TAU Urban Acoustic Scenes 2019 Mobile, development set (the dir holding meta.csv, audio/ and
# evaluation_setup/; from https://zenodo.org/record/2589332, not downloaded by this recipe).
tau2019mobile=${KDSPEECH_TAU2019MOBILE:-downloads/TAU-urban-acoustic-scenes-2019-mobile-development}
