#!/usr/bin/env bash
# Speech enhancement with SNR-routed teachers and a distilled student: the stages shared by every
# enhancement recipe.  A recipe's run.sh calls this script (symlinked as ./enh.sh) with its own
# options; every variable below is an option (--name value), `./run.sh --help` lists them.
#
#  1 data preparation   local/data.sh -> data/<clean_*>, data/<noise_*>   (corpus specific)
#  2 resample           every data dir to ${fs} Hz -> dump/raw/<dir>
#  3 mix at SNR         one training set per teacher SNR range, the student set, validation and
#                       test sets (seen / unseen noises) -> dump/mix/<set>
#  4 train teachers     one per SNR range -> exp/teacher_<k>
#  5 train student S1   the student alone (no teachers) -> exp/student_s1; with --baseline <model>,
#                       also a published baseline on the student set -> exp/baseline_<model>
#  6 distill student S2 the student with the teacher chosen by each mixture's SNR -> exp/student_s2
#  7 enhance            the test sets with every model -> exp/<model>/enhanced_<test set>; with
#                       --score_teachers, each teacher on the test mixtures of its own SNR range
#                       (dump/mix/<test set>_teacher_<k>)
#  8 score              PESQ, STOI, SI-SDR per utterance, by SNR and noise -> exp/<model>/score_<test set>
#  9 results            RESULTS.md and results/*.png (each metric by SNR; validation metrics by epoch
#                       of the students when their configs set trainer.eval_every)
set -euo pipefail

stage=1                # first stage to run
stop_stage=100         # last stage to run
nj=2                   # parallel jobs of data, enhancement and scoring stages
ngpu=0                 # GPUs per training (0: CPU); >1 trains with DDP through torchrun
num_nodes=1            # nodes per training (multi-node DDP through torchrun)
seed=1                 # seed of mixing, model initialisation, shuffling and crops
fs=16000               # sample rate of everything after stage 2
datadir=data           # corpus data dirs (stage 1)
dumpdir=dump           # resampled audio and mixtures
expdir=exp             # models, enhanced audio, scores
local_data_opts=""     # options passed to local/data.sh
train_set=clean_train  # clean training speech (data dir name)
valid_set=clean_valid  # clean validation speech
test_set=clean_test    # clean test speech (unseen speakers)
train_noise=noise_train      # noises of training, validation and the seen-noise test
test_noise=noise_test        # unseen noises of the unseen-noise test
teacher_snrs="-20,-17,-13,-11 -10,-7,-3,1 0,3,7,9 10,13,17,20"  # SNR set of each teacher, space-separated
student_snrs="-20,-10,0,10,20"                   # SNR set of the student (and validation) data
test_snrs="-20,-15,-10,-5,0,5,10,15,20"          # SNRs of the test sets
teacher_mix_per_utt=4  # mixtures per clean utterance in each teacher set
student_mix_per_utt=5  # mixtures per clean utterance in the student set
valid_mix_per_utt=1    # mixtures per clean utterance in validation sets
test_mix_per_utt=9     # mixtures per clean test utterance (cycling through test_snrs)
test_unseen_mix_per_utt=""  # the same for the unseen-noise test set (empty: test_mix_per_utt)
teacher_conf=conf/train_teacher.yaml     # teacher training config
student_conf=conf/train_student.yaml     # student S1 config (no teachers)
kd_conf=conf/train_student_kd.yaml       # student S2 config (teacher set 'snr' filled in here)
baseline=""            # a registered model trained on the student set as a baseline (e.g. crn); empty: none
baseline_conf=conf/train_crn.yaml        # its training config
train_args=""          # config overrides for every training, e.g. "trainer.max_epochs=2"
metrics=pesq_wb,stoi,si_sdr              # metrics of stage 8
score_teachers=false   # also enhance and score each teacher on the test mixtures of its SNR range
results=RESULTS.md     # the results file stage 9 writes
results_dir=results    # plots of stage 9 (PNG), linked from the results file
paper_results=""       # optional YAML of the paper's numbers, shown beside ours
results_note=""        # optional markdown file opening the results file (scale of the run, caveats)

help_message="Usage: $0 [options]   (stages are listed at the top of $(basename "$0"))"
. utils/parse_options.sh
. ./path.sh
. ./cmd.sh
. utils/stage.sh

read -r -a teacher_groups <<< "${teacher_snrs}"
num_teachers=${#teacher_groups[@]}
# Routing bounds between consecutive teachers: the lowest SNR of each teacher set after the first,
# so a mixture goes to the teacher whose range starts at or below its SNR.
teacher_bounds=$(for g in "${teacher_groups[@]:1}"; do tr ',' '\n' <<< "$g" | sort -g | head -n1; done | paste -sd, -)
test_sets="test_seen test_unseen"

# Plan, render in ${nj} jobs, merge: one mixture dir.
mix_dir() {  # mix_dir <clean dir> <noise dir> <out dir> <snrs> <mixtures per utt>
  local clean=$1 noise=$2 out=$3 snrs=$4 per_utt=$5
  local opts=(--clean "${clean}" --noise "${noise}" --out "${out}" --snrs "${snrs}"
              --mixtures_per_utt "${per_utt}" --seed "${seed}" --sr "${fs}")
  if [ "${nj}" -eq 1 ]; then  # one process plans, renders and merges (small runs, tests)
    python -m kdspeech.bin.mix_data_dir "${opts[@]}"
    return
  fi
  python -m kdspeech.bin.mix_data_dir "${opts[@]}" --plan
  ${train_cmd} JOB=1:"${nj}" "${out}/log/mix.JOB.log" python -m kdspeech.bin.mix_data_dir "${opts[@]}" --job JOB --nj "${nj}"
  python -m kdspeech.bin.mix_data_dir "${opts[@]}" --merge --nj "${nj}"
}

snr_subset() {  # snr_subset <mixture dir> <out dir> <lowest SNR> <highest SNR, excluded>: data dir of the mixtures in range
  python - "$@" <<'PY'
import sys
from kdspeech.data.datadir import DataDir, subset_data_dir
src, dst, lo, hi = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
utts = [u for u, v in DataDir(src).read("utt2snr").items() if lo <= float(v) < hi]
subset_data_dir(src, dst, utts)
print(f"{dst}: {len(utts)} mixtures with SNR in [{lo:g}, {hi:g}) dB", file=sys.stderr)
PY
}

resample_dir() {  # resample_dir <src> <dst>
  if [ "${nj}" -eq 1 ]; then  # one process converts and merges
    python -m kdspeech.bin.resample_data_dir --src "$1" --dst "$2" --sr "${fs}"
    return
  fi
  ${train_cmd} JOB=1:"${nj}" "$2/log/resample.JOB.log" python -m kdspeech.bin.resample_data_dir --src "$1" --dst "$2" --sr "${fs}" --job JOB --nj "${nj}"
  python -m kdspeech.bin.resample_data_dir --src "$1" --dst "$2" --sr "${fs}" --merge --nj "${nj}"
}

train_model() {  # train_model <conf> <train data> <valid data> <exp dir> [overrides...]
  local conf=$1 train=$2 valid=$3 dir=$4
  shift 4
  ${cuda_cmd} --gpu "${ngpu}" --num_nodes "${num_nodes}" "${dir}/log/train.log" \
    utils/launch.py --ngpu "${ngpu}" --num_nodes "${num_nodes}" -- \
    python -m kdspeech.bin.train --config "${conf}" --train_data "${train}" --valid_data "${valid}" \
      --out_dir "${dir}" --seed "${seed}" ${train_args} "$@"
}

enhance_dir() {  # enhance_dir <model dir> <mixture dir> <out dir>
  ${decode_cmd} JOB=1:"${nj}" "$3/log/enhance.JOB.log" python -m kdspeech.bin.enhance --model "$1" --data "$2" --out_dir "$3" --sr "${fs}" --job JOB --nj "${nj}"
  python -m kdspeech.bin.enhance --data "$2" --out_dir "$3" --merge --nj "${nj}"
}

score_dir() {  # score_dir <mixture dir> <estimate scp> <out dir>
  local opts=(--ref_scp "$1/spk1.scp" --est_scp "$2" --out_dir "$3" --metrics "${metrics}" --sr "${fs}")
  ${decode_cmd} JOB=1:"${nj}" "$3/log/score.JOB.log" python -m kdspeech.bin.score_enh "${opts[@]}" --job JOB --nj "${nj}"
  python -m kdspeech.bin.score_enh "${opts[@]}" --merge --nj "${nj}" --data "$1"
}

corpus_dirs="${train_set} ${valid_set} ${test_set} ${train_noise} ${test_noise}"
corpus_outs=()
for d in ${corpus_dirs}; do corpus_outs+=(--out "${datadir}/${d}"); done
stage_run 1 "data preparation" "${corpus_outs[@]}" -- local/data.sh --out "${datadir}" --seed "${seed}" ${local_data_opts}

for d in ${corpus_dirs}; do
  stage_run 2 "resample ${d} to ${fs} Hz" --out "${dumpdir}/raw/${d}" --deps "${datadir}/${d}" --param "fs=${fs}" -- \
    resample_dir "${datadir}/${d}" "${dumpdir}/raw/${d}"
done

raw=${dumpdir}/raw
mix=${dumpdir}/mix
mix_params=(--param "seed=${seed}" --param "fs=${fs}")   # globals the stage functions read
train_params=(--param "seed=${seed}" --param "fs=${fs}" --param "train_args=${train_args}")
for k in $(seq "${num_teachers}"); do
  snrs=${teacher_groups[k-1]}
  stage_run 3 "mix teacher ${k} set (${snrs} dB)" --out "${mix}/teacher_${k}" --deps "${raw}/${train_set}" --deps "${raw}/${train_noise}" "${mix_params[@]}" -- \
    mix_dir "${raw}/${train_set}" "${raw}/${train_noise}" "${mix}/teacher_${k}" "${snrs}" "${teacher_mix_per_utt}"
  stage_run 3 "mix teacher ${k} validation set" --out "${mix}/valid_teacher_${k}" --deps "${raw}/${valid_set}" --deps "${raw}/${train_noise}" "${mix_params[@]}" -- \
    mix_dir "${raw}/${valid_set}" "${raw}/${train_noise}" "${mix}/valid_teacher_${k}" "${snrs}" "${valid_mix_per_utt}"
done
stage_run 3 "mix student set (${student_snrs} dB)" --out "${mix}/student" --deps "${raw}/${train_set}" --deps "${raw}/${train_noise}" "${mix_params[@]}" -- \
  mix_dir "${raw}/${train_set}" "${raw}/${train_noise}" "${mix}/student" "${student_snrs}" "${student_mix_per_utt}"
stage_run 3 "mix student validation set" --out "${mix}/valid" --deps "${raw}/${valid_set}" --deps "${raw}/${train_noise}" "${mix_params[@]}" -- \
  mix_dir "${raw}/${valid_set}" "${raw}/${train_noise}" "${mix}/valid" "${student_snrs}" "${valid_mix_per_utt}"
stage_run 3 "mix test set, seen noises" --out "${mix}/test_seen" --deps "${raw}/${test_set}" --deps "${raw}/${train_noise}" "${mix_params[@]}" -- \
  mix_dir "${raw}/${test_set}" "${raw}/${train_noise}" "${mix}/test_seen" "${test_snrs}" "${test_mix_per_utt}"
stage_run 3 "mix test set, unseen noises" --out "${mix}/test_unseen" --deps "${raw}/${test_set}" --deps "${raw}/${test_noise}" "${mix_params[@]}" -- \
  mix_dir "${raw}/${test_set}" "${raw}/${test_noise}" "${mix}/test_unseen" "${test_snrs}" "${test_unseen_mix_per_utt:-${test_mix_per_utt}}"

teacher_dirs=()
for k in $(seq "${num_teachers}"); do
  teacher_dirs+=("${expdir}/teacher_${k}")
  stage_run 4 "train teacher ${k} (${teacher_groups[k-1]} dB)" --out "${expdir}/teacher_${k}" \
    --deps "${mix}/teacher_${k}" --deps "${mix}/valid_teacher_${k}" --conf "${teacher_conf}" "${train_params[@]}" -- \
    train_model "${teacher_conf}" "${mix}/teacher_${k}" "${mix}/valid_teacher_${k}" "${expdir}/teacher_${k}"
done

stage_run 5 "train student S1 (no teachers)" --out "${expdir}/student_s1" --deps "${mix}/student" --deps "${mix}/valid" \
  --conf "${student_conf}" "${train_params[@]}" -- \
  train_model "${student_conf}" "${mix}/student" "${mix}/valid" "${expdir}/student_s1"

if [ -n "${baseline}" ]; then
  stage_run 5 "train baseline ${baseline}" --out "${expdir}/baseline_${baseline}" --deps "${mix}/student" --deps "${mix}/valid" \
    --conf "${baseline_conf}" "${train_params[@]}" --param "baseline=${baseline}" -- \
    train_model "${baseline_conf}" "${mix}/student" "${mix}/valid" "${expdir}/baseline_${baseline}" "model.name=${baseline}"
fi

teacher_list=$(IFS=,; echo "${teacher_dirs[*]}")
teacher_deps=()
for d in "${teacher_dirs[@]}"; do teacher_deps+=(--deps "$d"); done
stage_run 6 "distill student S2 (SNR-routed teachers, bounds ${teacher_bounds} dB)" --out "${expdir}/student_s2" \
  --deps "${mix}/student" --deps "${mix}/valid" "${teacher_deps[@]}" --conf "${kd_conf}" "${train_params[@]}" -- \
  train_model "${kd_conf}" "${mix}/student" "${mix}/valid" "${expdir}/student_s2" \
    "teachers.snr.members=[${teacher_list}]" "teachers.snr.bounds=[${teacher_bounds}]"

models="student_s1 student_s2"
[ -n "${baseline}" ] && models+=" baseline_${baseline}"
# Teacher k is scored on the test mixtures routed to it (SNR in [bound k-1, bound k)): dump/mix/<t>_teacher_k.
teacher_tests=()   # "teacher_k:<test set>" pairs
if [ "${score_teachers}" = true ]; then
  read -r -a bounds <<< "${teacher_bounds//,/ }"
  for k in $(seq "${num_teachers}"); do
    lo=-inf hi=inf
    [ "$k" -gt 1 ] && lo=${bounds[k-2]}
    [ "$k" -lt "${num_teachers}" ] && hi=${bounds[k-1]}
    for t in ${test_sets}; do
      teacher_tests+=("teacher_${k}:${t}_teacher_${k}")
      stage_run 7 "select ${t} mixtures of teacher ${k} (SNR in [${lo}, ${hi}) dB)" --out "${mix}/${t}_teacher_${k}" \
        --deps "${mix}/${t}" --param "range=${lo},${hi}" -- \
        snr_subset "${mix}/${t}" "${mix}/${t}_teacher_${k}" "${lo}" "${hi}"
    done
  done
fi
pairs=()   # "model:test set" to enhance and score
for m in ${models}; do for t in ${test_sets}; do pairs+=("${m}:${t}"); done; done
pairs+=("${teacher_tests[@]}")
for pair in "${pairs[@]}"; do
  m=${pair%%:*} t=${pair#*:}
  stage_run 7 "enhance ${t} with ${m}" --out "${expdir}/${m}/enhanced_${t}" --deps "${expdir}/${m}" --deps "${mix}/${t}" --param "fs=${fs}" -- \
    enhance_dir "${expdir}/${m}" "${mix}/${t}" "${expdir}/${m}/enhanced_${t}"
done

score_params=(--param "fs=${fs}" --param "metrics=${metrics}")
for t in ${test_sets}; do
  stage_run 8 "score noisy ${t}" --out "${expdir}/noisy/score_${t}" --deps "${mix}/${t}" "${score_params[@]}" -- \
    score_dir "${mix}/${t}" "${mix}/${t}/wav.scp" "${expdir}/noisy/score_${t}"
done
for pair in "${pairs[@]}"; do
  m=${pair%%:*} t=${pair#*:}
  stage_run 8 "score ${m} on ${t}" --out "${expdir}/${m}/score_${t}" --deps "${expdir}/${m}/enhanced_${t}" "${score_params[@]}" -- \
    score_dir "${mix}/${t}" "${expdir}/${m}/enhanced_${t}/wav.scp" "${expdir}/${m}/score_${t}"
done

result_args=()
result_deps=()
for t in ${test_sets}; do
  result_args+=(--system "noisy/${t}=${expdir}/noisy/score_${t}")
  result_deps+=(--deps "${expdir}/noisy/score_${t}")
  for m in ${models}; do
    result_args+=(--system "${m}/${t}=${expdir}/${m}/score_${t}")
    result_deps+=(--deps "${expdir}/${m}/score_${t}")
  done
done
for pair in "${teacher_tests[@]}"; do
  m=${pair%%:*} t=${pair#*:}
  result_args+=(--system "${m}/${t%_teacher_*}=${expdir}/${m}/score_${t}")
  result_deps+=(--deps "${expdir}/${m}/score_${t}")
done
# The distilled student by noise type x SNR on each test set (the paper's Table 1).
for t in ${test_sets}; do result_args+=(--noise_snr "student_s2/${t}=${mix}/${t}"); done
# Validation metrics by epoch (history.json of trainings with trainer.eval_every): the paper's Fig. 4.
for m in student_s1 student_s2; do result_args+=(--curves "${m}=${expdir}/${m}"); result_deps+=(--deps "${expdir}/${m}"); done
[ -n "${paper_results}" ] && result_args+=(--paper "${paper_results}")
result_confs=()
if [ -n "${results_note}" ]; then result_args+=(--note "${results_note}"); result_confs+=(--conf "${results_note}"); fi
stage_run 9 "results" --out "${results_dir}" "${result_deps[@]}" "${result_confs[@]}" -- \
  python -m kdspeech.bin.make_results_enh "${result_args[@]}" --out "${results}" --plot_dir "${results_dir}" \
    --title "$(basename "$(dirname "$PWD")")/$(basename "$PWD"): SNR-based teachers-student enhancement"
if [ "${stop_stage}" -ge 9 ]; then
  log "results: ${results} (plots in ${results_dir}/)"
fi
