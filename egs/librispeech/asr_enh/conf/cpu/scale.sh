# CPU scale (the defaults of run.sh, recorded here): 60 LibriSpeech utterances cut to 1 s x 2 mixtures
# (120) at -5/0/5/10 dB with 5 NOISEX-92 noises, 10 validation mixtures; test: the 27 transcribed
# utterances (AN4 test 10, SpeechBrain 12, LJ Speech 5) x 2 mixtures at 0/5/10 dB with 4 other
# NOISEX-92 noise types (54).  Models: conf/cpu/*.yaml (4 epochs, tiny widths).
train_snrs="-5,0,5,10"; test_snrs="0,5,10"
train_mix_per_utt=2; valid_mix_per_utt=1; test_mix_per_utt=2
local_data_opts="--num_train 60 --num_valid 10 --max_seconds 1"
# moonshine decodes every system (enh.sh stage 7); pocketsphinx, ~5 s per noisy utterance on the shared
# CPU, only the systems of the main comparison (noisy input, student without and with KD).
backends="moonshine pocketsphinx"
other_backend_models="noisy student_lr student_le_ld"
# Step 8 (--asr_approaches true): Speech Commands words (1718 of 100 training speakers, 139 of 12 for
# validation, 640 of 25 for test) x 1 mixture at the training SNRs; the test words with the unseen
# noises; the template's CPU recognisers (0.94 M, batch 4) for 4 epochs.  Measured one thread each
# beside 3 other jobs on the 2 cores: 0.09-0.12 s/step for Conformer-CTC, 0.8-0.9 s/step for the
# joint cascades (DCCRN backward); the committed run trained the 18 recognisers of 3 seeds in 1 h 33 min
# with 2 trainings at a time; 8 epochs of the earlier 3.6 M recogniser took about 3.5 h per seed, more than a session here.
asr_data=speech_commands
asr_conf_dir=../../TEMPLATE/asr/conf/cpu
asr_train_mix_per_utt=1
asr_train_args="trainer.max_epochs=4"
