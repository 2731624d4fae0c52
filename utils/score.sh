#!/usr/bin/env bash
# Score estimates of a mixture data dir with metrics of the registry (kdspeech.bin.score): --nj jobs
# of the job runner of cmd.sh score per utterance (resumable), then one merge writes
# <out dir>/scores.tsv and summary.json / summary.txt (grouped by the data dir's utt2snr, utt2noise).
# Kaldi steps/ style.
#
#   utils/score.sh [options] <mixture data dir> <estimates: wav.scp> <out dir>
#
# Intrusive metrics (pesq_wb, stoi, si_sdr, ...) compare with <data dir>/spk1.scp (or --ref_scp);
# wer / cer decode the estimates with --asr_backend and compare with <data dir>/text (or --text);
# dnsmos_* need neither.  Job logs: <out dir>/log/score.JOB.log.
set -euo pipefail

cmd=${decode_cmd:-utils/run.py}  # job runner (default: $decode_cmd of cmd.sh, else utils/run.py)
nj=1                   # parallel jobs
fs=""                  # sample rate both signals must have (empty: the reference's)
metrics=pesq_wb,stoi,si_sdr  # comma-separated metric names of kdspeech.metrics
ref_scp=""             # clean references (empty: <data dir>/spk1.scp when it exists)
text=""                # transcripts for wer/cer (empty: <data dir>/text when wer or cer is asked for)
asr_backend=""         # ASR backend of wer/cer (empty: the scorer's default)
asr_lm_text=""         # text to build the ASR language model from (empty: the backend's default)

help_message="Usage: $0 [options] <mixture data dir> <estimates wav.scp> <out dir>
e.g.: $0 --nj 4 --metrics pesq_wb,stoi dump/mix/test_seen exp/student_s2/enhanced_test_seen/wav.scp exp/student_s2/score_test_seen"
. "$(dirname "$0")/parse_options.sh"

if [ $# -ne 3 ]; then
  echo "$help_message" >&2
  exit 1
fi
data=$1 est=$2 dir=$3
[ -f "${est}" ] || { echo "$0: estimates ${est} not found (scoring into ${dir})" >&2; exit 1; }
[ -n "${ref_scp}" ] || { [ ! -f "${data}/spk1.scp" ] || ref_scp=${data}/spk1.scp; }
if [ -z "${text}" ] && [[ ,${metrics}, =~ ,(wer|cer), ]]; then
  text=${data}/text
  [ -f "${text}" ] || { echo "$0: ${metrics} needs transcripts, ${text} not found (scoring into ${dir})" >&2; exit 1; }
fi

opts=(--est_scp "${est}" --out_dir "${dir}" --metrics "${metrics}" --nj "${nj}")
[ -z "${fs}" ] || opts+=(--sr "${fs}")
[ -z "${text}" ] || opts+=(--text "${text}")   # the merge checks the hypotheses against it too
job_opts=()
[ -z "${ref_scp}" ] || job_opts+=(--ref_scp "${ref_scp}")
[ -z "${asr_backend}" ] || job_opts+=(--asr_backend "${asr_backend}")
[ -z "${asr_lm_text}" ] || job_opts+=(--asr_lm_text "${asr_lm_text}")

# kdspeech.bin.score is the scorer of every metric kind; score_enh (same CLI, intrusive metrics only)
# is used until it is installed in this tree.
verb=kdspeech.bin.score
if [ ! -f "$(dirname "$0")/../kdspeech/bin/score.py" ]; then
  verb=kdspeech.bin.score_enh
  if [ -n "${text}${asr_backend}${asr_lm_text}" ] || [[ ,${metrics}, =~ ,(wer|cer|dnsmos_[a-z0-9]+), ]]; then
    echo "$0: ${metrics} needs kdspeech.bin.score, which this tree does not have yet" >&2
    exit 1
  fi
fi

# shellcheck disable=SC2086  # $cmd is a command line, word-split as Kaldi's $decode_cmd is
${cmd} JOB=1:"${nj}" "${dir}/log/score.JOB.log" python -m "${verb}" "${opts[@]}" "${job_opts[@]}" --job JOB
python -m "${verb}" "${opts[@]}" --merge --data "${data}"
