# Paper scale (./run.sh --conf_dir conf): the paper names neither its noises nor its SNRs; we take
# train-clean-100 (2,000 utterances cut to 4 s = data.segment, so that crops are fixed and the
# DeepFilterNet3 cache matches every epoch), 5 mixtures each at -5..15 dB, the full transcribed test
# speech x 6 mixtures at 0/5/10/15 dB.  Models: conf/*.yaml (published DCCRN-CL, 21M Conformer).
train_snrs="-5,0,5,10,15"; test_snrs="0,5,10,15"
train_mix_per_utt=5; valid_mix_per_utt=2; test_mix_per_utt=6
local_data_opts="--num_train 2000 --num_valid 100 --max_seconds 4"
nj=8
train_jobs=1
deploy_seconds=4
# Step 8 (--asr_approaches true): the recognisers at the paper's size (ESPnet's LibriSpeech-100
# Conformer encoder), trained on this scale's train/valid mixtures, whose LibriSpeech speech has text.
asr_data=mixtures
asr_conf_dir=../../TEMPLATE/asr/conf
