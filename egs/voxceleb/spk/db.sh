# Corpus locations of egs/voxceleb/spk (edit for your site).  VoxCeleb1 and VoxCeleb2 are
# registration-only: there is no download stage; request access at
# https://www.robots.ox.ac.uk/~vgg/data/voxceleb/ and point these at your copies.
VOX1=${VOX1:-/path/to/VoxCeleb1}               # wav/<spk>/<yt>/<n>.wav (dev + test), or vox1_{dev,test}_wav/wav/
VOX2=${VOX2:-/path/to/VoxCeleb2}               # dev/aac/<spk>/<yt>/<n>.m4a (or a .wav copy: dev/wav/ or wav/)
VOX1_TRIALS=${VOX1_TRIALS:-${VOX1}/veri_test2.txt}   # VoxCeleb1-O (cleaned) trial list
