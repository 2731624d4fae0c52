#!/usr/bin/env bash
# Enhancement + ASR template: the ASR training approaches of the Charishma paper (issue 22; configs in
# egs/TEMPLATE/asr/conf, definitions in kdspeech/models/se_asr.py) trained and compared by WER/CER.  A
# recipe makes its mixture sets (with text and spk1.scp) first, e.g. with egs/TEMPLATE/enh/enh.sh
# --stop_stage 3 (they are then dump/mix/<name>; a set holding a '/' is a data-dir path), then calls
# this script with its lists; every variable below is an option (--name value), --help lists them.
#
#  1 train front ends    the --frontends (enhancement systems, e.g. the KD student or a DCCRN trained on
#                        SI-SNR alone), each in exp/<name>, in list order; up to --train_jobs at once,
#                        an entry after the front ends it reads
#  2 enhance             each --mct_sets entry's mixture set, and each --test_sets set for every front
#                        end a --rows entry names -> exp/<front end>/enhanced_<set>
#  3 token list, MCT-all the character list (or --token_type bpe: a BPE model and its pieces) of the
#                        text of --token_sets -> ${token_list}; each
#                        --mct_sets entry -> dump/asr/<name>: its mixtures, their enhanced speech and
#                        their clean speech in one data dir (ids prefixed noisy-, enh-, clean-)
#  4 train recognisers   the --recognisers (task asr: conformer_ctc, se_asr), each in exp/<name>, in
#                        list order, up to --train_jobs at once; a recogniser whose config reads a
#                        front end's exp dir names it among its dependencies
#                        (model.conf.frontend_init={expdir}/<front end>)
#  5 decode and score    each --rows entry on each test set: the noisy input, or a front end's enhanced
#                        speech, decoded by a recogniser (--asr_backend trained:exp/<recogniser>),
#                        WER/CER against the set's text -> exp/rows/<row>/score_asr_<set>
#                        with --quality_metrics, the quality of that speech (for a joint model, the
#                        output of its own front end: kdspeech.bin.enhance --output wav) against the
#                        clean reference -> exp/rows/<row>/score_<set> (sets with spk1.scp)
#  6 results             a table of every row's WER/CER by test set, and each row against the
#                        --baseline_row paired on the same utterances (difference of corpus rates, CI,
#                        Wilcoxon p, verdict; kdspeech.bin.asr_rows_table) -> exp/results/asr_rows.md,
#                        and the --loss_curves figure -> exp/results/training_loss.png
#
# Lists take entries separated by ';' or newlines, fields by blanks:
#   --frontends, --recognisers: "<name> <config> <train set> <valid set> <exp dirs it reads: a,b or -> [key.path=value ...]"
#   --mct_sets:                 "<name> <mixture set> <front end>"       (MCT-all's training set)
#   --rows:                     "<row> <front end, or - for the noisy input> <recogniser>"
# The approaches as rows (names are the recipe's):
#   mct_noisy      - mct_noisy            conformer_ctc trained on the mixtures
#   standardize_sr se mct_noisy           a separately trained front end before the MCT-noisy recogniser
#   mct_all        - mct_all              conformer_ctc trained on dump/asr/<MCT-all set>
#   joint_straight - joint_straight       se_asr (train_asr_joint_straight.yaml): decodes noisy input
#   joint_aso      - joint_aso            se_asr, CTC + w SI-SNR (train_asr_joint_aso.yaml)
#   joint_grad     - joint_grad           joint_aso with the gradient remedy (train_asr_joint_grad.yaml)
#   proposed       - proposed             se_asr with the frozen KD student (train_asr_proposed.yaml)
set -euo pipefail

stage=1                # first stage to run
stop_stage=100         # last stage to run
rerun_changed_code=false   # re-run the stages whose library code changed since they ran (false: a warning names them)
nj=2                   # parallel jobs of enhancement and scoring
train_jobs=1           # trainings of stages 1 and 4 at the same time (the cores are shared among them)
ngpu=0                 # GPUs per training, and enhancement on a GPU when > 0
num_nodes=1            # nodes per training
seed=1                 # seed of model initialisation and shuffling
fs=16000               # sample rate of the data sets
dumpdir=dump           # mixture sets (dump/mix) and MCT-all sets (dump/asr)
expdir=exp             # models, enhanced speech, scores
frontends=""           # stage 1, entries "<name> <config> <train set> <valid set> <deps a,b or -> [overrides]"
recognisers=""         # stage 4, entries as --frontends
mct_sets=""            # stages 2-3, entries "<name> <mixture set> <front end>"
token_list=data/token_list/char/tokens.txt   # the token list the ASR configs read (data.token_list, the model's tokens)
token_type=char        # char | bpe (a sentencepiece BPE model beside the list: every recogniser gets data.bpe_model)
bpe_units=300          # BPE vocabulary size (--token_type bpe; point --token_list and the configs at e.g. data/token_list/bpe300/tokens.txt)
token_sets=""          # sets whose text makes the token list (empty: the train sets of --recognisers)
train_args=""          # config overrides for every training, e.g. "trainer.max_epochs=2"
rows=""                # stage 5, entries "<row> <front end or -> <recogniser>"
test_sets="test"       # sets every row is decoded on (with text)
asr_metrics=wer,cer    # metrics of stage 5
quality_metrics=""     # stage 5 also: these metrics (e.g. pesq_wb,stoi,si_sdr) of the speech each row decodes, on
                       # the test sets with a clean reference (spk1.scp): the paper's Tables 5 and 6
table_rows=""          # stage 6: the rows of the table (empty: every --rows entry)
table_seeds=""         # training seeds of the table's rows, e.g. "1 2 3": <row>_seed<k> is seed k of <row>
baseline_row=""        # the row the others are compared with in stage 6 (empty: the first)
run_command=""         # the recipe command the table records (empty: the table maker's own)
loss_curves=""         # stage 6: recognisers whose training loss is plotted (the paper's Fig. 3)
loss_curves_right=""   # those of --loss_curves drawn on a right-hand axis (the paper: the proposed one)
table_recognisers=""   # stage 6: recognisers whose parameters and training time are listed (with their seeds)
paper_table=""         # stage 6: a TSV of the paper's WER/CER per row (kdspeech.bin.asr_rows_table --paper): its orderings checked

help_message="Usage: $0 [options]   (stages are listed at the top of $(basename "$0"))"
. utils/parse_options.sh
. ./path.sh
. ./cmd.sh
. utils/stage.sh
. utils/template_lib.sh   # entries, set_dir, set_name, train_system
. utils/parallel.sh       # parallel_each

set_root=${dumpdir}/mix
device=cpu
[ "${ngpu}" -gt 0 ] && device=cuda
params=(--param "seed=${seed}" --param "fs=${fs}" --param "train_args=${train_args}")

declare -A fe_needed=()   # "<front end> <set>" pairs of stage 2
front_ends=() recogniser_names=()

set_dep() {  # set_dep <set>: the stage_run words of a data set: --deps when a stage makes it, else (a
  # data dir of the recipe's own, e.g. mixtures made before this script) --inputs_listed: its files and
  # the audio they list are in the stage's fingerprint
  local dir
  dir=$(set_dir "$1")
  if is_external_set "${dir}"; then echo "--inputs_listed ${dir}"; else echo "--deps ${dir}"; fi
}

train_entry() {  # train_entry <stage> <entry>: one training of --frontends or --recognisers
  local n=$1 name conf train valid deps args dep
  read -r name conf train valid deps args <<< "$2"
  [ -n "${deps}" ] || { log "ERROR: entry '$2': expected <name> <config> <train set> <valid set> <deps or -> [overrides]"; exit 1; }
  local dep_opts
  read -r -a dep_opts <<< "$(set_dep "${train}") $(set_dep "${valid}")"
  for dep in ${deps//,/ }; do [ "${dep}" = - ] || dep_opts+=(--deps "${expdir}/${dep}"); done
  [ "${n}" -ne 4 ] || dep_opts+=(--deps "$(dirname "${token_list}")")
  [ "${n}" -ne 4 ] || [ "${token_type}" != bpe ] || args+=" data.bpe_model=$(dirname "${token_list}")/bpe.model"
  # shellcheck disable=SC2086  # the overrides are words
  stage_run "${n}" "train ${name}" --out "${expdir}/${name}" "${dep_opts[@]}" --conf "${conf}" "${params[@]}" \
    --progress "${expdir}/${name}" -- \
    train_system "${conf}" "$(set_dir "${train}")" "$(set_dir "${valid}")" "${expdir}/${name}" ${args//\{expdir\}/${expdir}}
}

declare -A entry_of=()   # training name -> its --frontends or --recognisers entry
entry_deps() {  # entry_deps <name>: the exp dirs its entry reads (parallel_each --after)
  local name conf train valid deps
  read -r name conf train valid deps _ <<< "${entry_of[$1]}"
  [ "${deps:--}" = - ] || echo "${deps//,/ }"
}
train_named() { train_entry "$1" "${entry_of[$2]}"; }   # train_named <stage> <name>
train_list() {  # train_list <stage> <names...>: their trainings, up to --train_jobs at once
  local n=$1 jobs=${train_jobs}
  shift
  (($# > 0)) || return 0
  # out of range, one at a time in this shell: stage_run only records which stage makes what
  ((n >= stage && n <= stop_stage)) || jobs=1
  parallel_each --after entry_deps "${jobs}" "$*" train_named "${n}" ||
    { log "ERROR: stage ${n} failed (see ${expdir}/<name>/log/train.log)"; exit 1; }
}

# Stage 1: front ends.
while read -r entry; do
  entry_of[${entry%% *}]=${entry}
  front_ends+=("${entry%% *}")
done < <(entries "${frontends}")
train_list 1 ${front_ends[@]+"${front_ends[@]}"}

# Stage 2: enhanced speech of the MCT-all mixture sets and of the test sets of the rows' front ends.
# The stages run functions that read ${nj}, ${fs} and ${device}; fs and device are --params (they change
# the output), the job count is not: a run resumed with another --nj keeps its stages.
enhance_with() {  # enhance_with <model exp dir> <set dir> <out dir> [enhance opts]
  utils/enhance.sh --nj "${nj}" --fs "${fs}" --device "${device}" ${4:+--enhance_opts "$4"} "$1" "$2" "$3"
}
while read -r name src fe; do
  [ -n "${fe}" ] || { log "ERROR: --mct_sets entry '${name} ${src}': expected <name> <mixture set> <front end>"; exit 1; }
  fe_needed["${fe} ${src}"]=1
done < <(entries "${mct_sets}")
while read -r row fe rec; do
  [ -n "${rec}" ] || { log "ERROR: --rows entry '${row} ${fe}': expected <row> <front end or -> <recogniser>"; exit 1; }
  [ "${fe}" = - ] || for t in ${test_sets}; do fe_needed["${fe} ${t}"]=1; done
done < <(entries "${rows}")
for pair in "${!fe_needed[@]}"; do
  read -r fe t <<< "${pair}"
  out=${expdir}/${fe}/enhanced_$(set_name "${t}")
  read -r -a set_opts <<< "$(set_dep "${t}")"
  stage_run 2 "enhance ${t} with ${fe}" --out "${out}" --deps "${expdir}/${fe}" "${set_opts[@]}" \
    --param "fs=${fs}" --param "device=${device}" -- enhance_with "${expdir}/${fe}" "$(set_dir "${t}")" "${out}"
done

# Stage 3: the MCT-all sets, then the token list.
mct_all_dir() {  # mct_all_dir <mixture dir> <enhanced dir> <out dir>: noisy + enhanced + clean speech
  local mix=$1 enh=$2 out=$3 f
  rm -rf "${out}.parts" && mkdir -p "${out}.parts/noisy" "${out}.parts/enh" "${out}.parts/clean"
  for f in text utt2spk spk1.scp; do   # what an ASR set needs (and Joint-ASO's reference)
    [ ! -f "${mix}/${f}" ] || for part in noisy enh clean; do cp "${mix}/${f}" "${out}.parts/${part}/"; done
  done
  cp "${mix}/wav.scp" "${out}.parts/noisy/wav.scp"
  cp "${enh}/wav.scp" "${out}.parts/enh/wav.scp"
  cp "${mix}/spk1.scp" "${out}.parts/clean/wav.scp"   # clean speech: its own reference
  python -m kdspeech.bin.combine_data_dirs --dst "${out}" --prefixes "noisy- enh- clean-" \
    "${out}.parts/noisy" "${out}.parts/enh" "${out}.parts/clean"
  rm -rf "${out}.parts"
}
while read -r name src fe; do
  [ -n "${name}" ] || continue
  read -r -a set_opts <<< "$(set_dep "${src}")"
  stage_run 3 "MCT-all set ${name}: ${src}, enhanced by ${fe}, and clean" --out "${dumpdir}/asr/${name}" \
    "${set_opts[@]}" --deps "${expdir}/${fe}/enhanced_$(set_name "${src}")" -- \
    mct_all_dir "$(set_dir "${src}")" "${expdir}/${fe}/enhanced_$(set_name "${src}")" "${dumpdir}/asr/${name}"
done < <(entries "${mct_sets}")

# Stage 3 (then): the token list.
if [ -z "${token_sets}" ]; then
  while read -r _ _ train _; do [ -z "${train}" ] || token_sets="${token_sets} ${train}"; done < <(entries "${recognisers}")
fi
token_deps=()
for t in ${token_sets}; do read -r -a set_opts <<< "$(set_dep "${t}")"; token_deps+=("${set_opts[@]}"); done
make_token_list() {  # make_token_list <out file> <set dir>...: the characters of the sets' text
  local out=$1 tmp
  shift
  tmp=$(dirname "${out}")/text.all
  sort -u "${@/%//text}" > "${tmp}"
  python -m kdspeech.bin.make_tokens --text "${tmp}" --out "${out}" --token_type "${token_type}" --bpe_units "${bpe_units}"
}
token_dirs=()
for t in ${token_sets}; do token_dirs+=("$(set_dir "${t}")"); done
[ -z "${recognisers}" ] || stage_run 3 "token list (${token_type}) from ${token_sets}" --out "$(dirname "${token_list}")" \
  ${token_deps[@]+"${token_deps[@]}"} --param "token_type=${token_type}" --param "bpe_units=${bpe_units}" -- \
  make_token_list "${token_list}" "${token_dirs[@]}"

# Stage 4: recognisers.
while read -r entry; do
  entry_of[${entry%% *}]=${entry}
  recogniser_names+=("${entry%% *}")
done < <(entries "${recognisers}")
train_list 4 ${recogniser_names[@]+"${recogniser_names[@]}"}

# Stage 5: every row on every test set.
score_row() {  # score_row <test set dir> <wav.scp to decode> <recogniser exp dir> <out dir>
  utils/score.sh --nj "${nj}" --fs "${fs}" --metrics "${asr_metrics}" --asr_backend "trained:$3" "$1" "$2" "$4"
}
score_quality() {  # score_quality <test set dir (spk1.scp)> <wav.scp of the speech> <out dir>
  utils/score.sh --nj "${nj}" --fs "${fs}" --metrics "${quality_metrics}" "$1" "$2" "$3"
}
is_joint() {  # is_joint <recogniser exp dir>: its model has a front end inside (se_asr)
  grep -q '^  name: se_asr$' "$1/config.yaml" 2>/dev/null
}
row_names=()
while read -r row fe rec; do
  [ -n "${row}" ] || continue
  row_names+=("${row}")
  for t in ${test_sets}; do
    input=$(set_dir "${t}")/wav.scp
    read -r -a deps <<< "$(set_dep "${t}") --deps ${expdir}/${rec}"
    if [ "${fe}" != - ]; then
      input=${expdir}/${fe}/enhanced_$(set_name "${t}")/wav.scp
      deps+=(--deps "${expdir}/${fe}/enhanced_$(set_name "${t}")")
    fi
    stage_run 5 "decode ${t} for ${row} (${fe} -> ${rec})" --out "${expdir}/rows/${row}/score_asr_$(set_name "${t}")" \
      "${deps[@]}" --param "fs=${fs}" --param "asr_metrics=${asr_metrics}" -- \
      score_row "$(set_dir "${t}")" "${input}" "${expdir}/${rec}" "${expdir}/rows/${row}/score_asr_$(set_name "${t}")"
    [ -n "${quality_metrics}" ] && [ -f "$(set_dir "${t}")/spk1.scp" ] || continue
    # the speech the row's recogniser hears: a joint model's own front end output (se_asr's wav), the
    # front end's enhanced speech, or the noisy input
    if [ "${fe}" = - ] && is_joint "${expdir}/${rec}"; then
      input=${expdir}/${rec}/enhanced_$(set_name "${t}")/wav.scp
      read -r -a set_opts <<< "$(set_dep "${t}")"
      stage_run 5 "enhance ${t} with the front end inside ${rec}" --out "${expdir}/${rec}/enhanced_$(set_name "${t}")" \
        --deps "${expdir}/${rec}" "${set_opts[@]}" --param "fs=${fs}" --param "device=${device}" -- \
        enhance_with "${expdir}/${rec}" "$(set_dir "${t}")" "${expdir}/${rec}/enhanced_$(set_name "${t}")" "--output wav"
      deps+=(--deps "${expdir}/${rec}/enhanced_$(set_name "${t}")")
    fi
    stage_run 5 "quality of ${row}'s speech on ${t}" --out "${expdir}/rows/${row}/score_$(set_name "${t}")" \
      "${deps[@]}" --param "fs=${fs}" --param "quality_metrics=${quality_metrics}" -- \
      score_quality "$(set_dir "${t}")" "${input}" "${expdir}/rows/${row}/score_$(set_name "${t}")"
  done
done < <(entries "${rows}")

# Stage 6: the table.
table_deps=()
for row in ${row_names[@]+"${row_names[@]}"}; do
  for t in ${test_sets}; do
    table_deps+=(--deps "${expdir}/rows/${row}/score_asr_$(set_name "${t}")")
    [ ! -f "${expdir}/rows/${row}/score_$(set_name "${t}")/.done" ] || table_deps+=(--deps "${expdir}/rows/${row}/score_$(set_name "${t}")")
  done
done
[ "${#row_names[@]}" -eq 0 ] || stage_run 6 "results table" --out "${expdir}/results" "${table_deps[@]}" -- \
  python -m kdspeech.bin.asr_rows_table --exp "${expdir}" --rows "${table_rows:-${row_names[*]}}" \
    --sets "$(for t in ${test_sets}; do set_name "${t}"; done | tr '\n' ' ')" --out "${expdir}/results/asr_rows.md" \
    --seeds "${table_seeds}" --baseline "${baseline_row}" ${run_command:+--command "${run_command}"} \
    --curves "${loss_curves}" --curves_right "${loss_curves_right}" --recognisers "${table_recognisers}" \
    ${paper_table:+--paper "${paper_table}"} \
    --set_dirs "$(for t in ${test_sets}; do set_dir "${t}"; done | tr '\n' ' ')"
log "done"
