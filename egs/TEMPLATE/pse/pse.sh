#!/usr/bin/env bash
# Personalized speech enhancement task template: a target speaker's voice kept, everything else (noise,
# interfering talkers) removed, the model told whose voice by an enrolment embedding.  A recipe's run.sh
# calls this script (symlinked as ./pse.sh; ./enh.sh must be linked beside it); every variable below is
# an option (--name value), `./pse.sh --help` lists them.  Stages 1-2 and 4-9 are the enhancement
# template's (egs/TEMPLATE/enh/enh.sh), run with the options this script gives it:
#
#  1 data preparation   local/data.sh -> data/<corpus dirs>                  (corpus specific)
#  2 resample           every corpus dir to ${fs} Hz -> dump/raw/<dir>
#  3 sets               training sources split 85/15 by file with one enrolment clip per speaker set
#                       aside (kdspeech.bin.split_sources -> dump/pse/train_split); the teacher's
#                       embedding of each enrolment clip, once (dump/pse/enroll_train/emb.npz, keyed by
#                       speaker); the fixed validation mixtures (kdspeech.bin.mix_pse, the settings of
#                       --mix_conf) -> dump/pse/valid; with --test_sources a synthetic test set with
#                       clean references from unseen speakers, noises and rooms -> dump/pse/test; the
#                       teacher's embedding of every test utterance's enrolment clip (utt2enroll of the
#                       test set and of each --blind_sets dir) -> dump/pse/enroll_test/emb.npz; a blind
#                       set of your own (a data-dir path) is first checked and resampled -> dump/test/<name>
#  4 train              the --systems (trained on mixtures made on the fly from the training sources)
#  5 enhance            the test sets with every model, the enrolment embeddings of stage 3 as input
#  6 score              --metrics on the test sets that have a clean reference (the synthetic one)
#  8 DNSMOS             --dnsmos_metrics (P.835 and personalized DNSMOS) on every test set
#  9 deployment         (--deploy true) parameters, MACs, CPU real-time factor, ONNX check -> exp/deploy;
#                       (--deploy_streaming true) the streaming latency table
# 10 alpha sweep        (--alpha_model) that model run again with each similarity scale of --alpha_sweep
#                       on the validation set (alpha is chosen there, by --alpha_metric) and on the test
#                       sets (the paper's Fig. 3), scored by DNSMOS -> exp/<model>/*_alpha<a>
# 11 results            this run's RESULTS.md: the paper's Table I layout with ours beside it, paired tests
#                       against --baseline, the alpha figure (kdspeech.bin.make_results_pse)
#                       -> exp/results/RESULTS.md, exp/results/results/*.png (laid out as the committed
#                       --results and --results_dir, which a run never touches)
# 12 compare            this run's results against the committed RESULTS.md, table by table and cell by
#                       cell, within the run-to-run spread it states -> exp/compare/compare.md (summary
#                       printed); --update_results true then copies this run's results over the committed
#                       ones (for maintainers)
#
# Lists: --systems as in enh.sh: "<name> <config> <train set> <valid set> <deps or -> [key.path=value ...]";
# the sets `train` and `valid` here mean dump/pse/train_split/train and dump/pse/valid.  --models selects
# the systems of every stage (only they are trained).
#
# Test sets of your own: --blind_sets takes data-dir paths beside stage-2 names (utils/template_lib.sh:
# external_sets): wav.scp (the recordings), utt2spk and utt2enroll (each recording's enrolment clip);
# make one from DNS5-style folders side by side with
#   python -m kdspeech.bin.data_dir_from --audio mine/noisy --enrol mine/enrol --out data/mine
# (the clip of the same name, else with --spk_from dir the one clip of the speaker's folder).  Without a
# clean reference (spk1.scp) a set is scored by DNSMOS and personalized DNSMOS only.
set -euo pipefail

stage=1                # first stage to run
stop_stage=100         # last stage to run
rerun_changed_code=false   # re-run the stages whose library code (kdspeech modules, utils/ scripts) changed since they ran (false: a warning names them)
nj=2                   # parallel jobs of data, enhancement and scoring stages
ngpu=0                 # GPUs per training (0: CPU)
seed=1                 # seed of splitting, mixing, model initialisation and crops
fs=16000               # sample rate of everything after stage 2
dumpdir=dump           # resampled audio, sets
expdir=exp             # models, enhanced audio, scores
local_data_opts=""     # options passed to local/data.sh
corpus_dirs="train_clean noise rir"   # data dirs local/data.sh writes
train_sources=train_clean  # stage-2 dir of target speech for training (wav.scp, utt2spk)
noises=noise           # stage-2 dir of training noises
rirs=rir               # stage-2 dir of training room impulse responses (empty: no reverberation)
test_sources=""        # stage-2 dir of target speech of unseen speakers for a synthetic test set (empty: none)
test_noises=""         # its noises (empty: --noises)
test_rirs=""           # its RIRs (empty: --rirs)
blind_sets=""          # real test sets without clean reference (wav.scp, utt2spk, utt2enroll): stage-2 dir names, or data-dir paths of your own
mix_conf=""            # YAML of the mixing settings (a training config's data.on_the_fly, or those keys)
valid_mixtures=100     # mixtures of the fixed validation set
test_mixtures=100      # mixtures of the synthetic test set
mix_seconds=10         # seconds per validation / test mixture
teacher_conf=""        # a config holding the teacher set --teacher_set (the reference encoder)
teacher_set=teacher    # name of that set
min_enroll_seconds=1.0 # stage 3: a shorter enrolment clip is an error (one chunk T' of the similarity)
systems=""             # stage 4 entries (see above)
train_jobs=1           # trainings that may run at the same time
train_args=""          # config overrides for every training
skip_train=false       # skip stage 4: enhance and score models already in exp/ (see --models)
models=""              # systems to train, enhance and score (empty: every system)
metrics=pesq_wb,stoi,si_sdr   # stage 6, on the test sets with a clean reference
dnsmos_metrics=dnsmos_sig,dnsmos_bak,dnsmos_ovrl,pdnsmos_sig,pdnsmos_bak,pdnsmos_ovrl  # stage 8
deploy=true            # stage 9
deploy_onnx=true       # stage 9 also exports to ONNX and checks it with onnxruntime
deploy_streaming=true  # stage 9 also streams each system hop by hop: the latency table (pse_refine refines on the fly)
alpha_model=""         # stage 10: a pse_refine model re-run with each alpha (empty: no sweep)
alpha_sweep="1 2 4 6 8 12"  # stage 10: the similarity scales
alpha_metric=pdnsmos_ovrl   # stage 10: alpha chosen by this DNSMOS figure on the validation set
alpha_metrics=pdnsmos_sig,pdnsmos_bak,pdnsmos_ovrl  # stage 10: what each alpha is scored by (Fig. 3: SIG and BAK)
baseline=""            # stage 11: the system every other is tested against (e.g. the plain pDeepFilterNet2)
encoders=""            # stage 11: "<system>=<reference encoder>/<on-the-fly encoder or ->" words, for Table I
results=RESULTS.md     # the committed results file, the reference (stage 11 writes <expdir>/results/<this path>)
results_dir=results    # its plots (stage 11 writes them in <expdir>/results/<this dir>)
update_results=false   # stage 12 also copies this run's results over the committed ones (for maintainers)
paper_results=""       # YAML of the paper's Table I (kdspeech.bin.make_results_pse --paper)
results_note=""        # markdown file opening the results file
run_command=""         # the command the user ran, for RESULTS.md

help_message="Usage: $0 [options]   (stages are listed at the top of $(basename "$0"))"
pse_command=$(printf '%q ' "$0" "$@")
. utils/parse_options.sh
. ./path.sh
. ./cmd.sh
. utils/stage.sh
. utils/template_lib.sh   # entries, set_dir, model_dep, compare_with_committed

raw=${dumpdir}/raw
pse=${dumpdir}/pse
set_root=${raw}
in_range() { (($1 >= stage && $1 <= stop_stage)); }

# The sets of the systems list: `train` and `valid` are this template's.
pse_systems() {  # the --systems entries with the sets `train` and `valid` made paths
  local name conf train valid rest
  while read -r name conf train valid rest; do
    [ -n "${name}" ] || continue
    [ "${train}" != train ] || train=${pse}/train_split/train
    [ "${valid}" != valid ] || valid=${pse}/valid
    echo "${name} ${conf} ${train} ${valid} ${rest}"
  done < <(entries "${systems}")
}
systems=$(pse_systems)
declare -A sys_conf=()   # the systems this run trains (model_dep)
if [ "${skip_train}" = false ]; then
  while read -r name _; do
    [ -n "${models}" ] && [[ " ${models} " != *" ${name} "* ]] || sys_conf[${name}]=1
  done < <(entries "${systems}")
fi
if [ -n "${models}" ]; then   # --models selects the systems of every stage, training included
  systems=$(while read -r name rest; do [[ " ${models} " != *" ${name} "* ]] || echo "${name} ${rest}"; done < <(entries "${systems}"))
fi
test_sets="${test_sources:+${pse}/test}"
for b in ${blind_sets}; do if [[ ${b} == */* ]]; then test_sets+=" ${b}"; else test_sets+=" ${raw}/${b}"; fi; done
[ -n "${test_sets// /}" ] || { log "ERROR: no test set: give --test_sources or --blind_sets"; exit 1; }

enh_common=(--nj "${nj}" --ngpu "${ngpu}" --seed "${seed}" --fs "${fs}" --dumpdir "${dumpdir}" --expdir "${expdir}"
            --local_data_opts "${local_data_opts}" --corpus_dirs "${corpus_dirs}")
enh_range() {  # enh_range <first> <last>: enh.sh's stages within both ranges
  local lo=$(($1 > stage ? $1 : stage)) hi=$(($2 < stop_stage ? $2 : stop_stage))
  ((lo <= hi)) || return 0
  ./enh.sh "${enh_common[@]}" --stage "${lo}" --stop_stage "${hi}" --rerun_changed_code "${rerun_changed_code}" --mix_sets "" \
    --systems "${systems}" --train_jobs "${train_jobs}" --train_args "${train_args}" --skip_train "${skip_train}" --models "${models}" \
    --test_sets "${enh_test_sets}" --metrics "${metrics}" --dnsmos true --dnsmos_metrics "${dnsmos_metrics}" \
    --deploy "${deploy}" --deploy_onnx "${deploy_onnx}" --deploy_streaming "${deploy_streaming}" --deploy_opts "--parts enhancer,encoder" --enhance_opts "--enroll_emb ${pse}/enroll_test/emb.npz"
}

enh_test_sets=""   # stages 1-2 read no test set; stages 4-9 those of stage 3 (below)
enh_range 1 2

# ---------------------------------------------------------------------------------------------------
# Stage 3: sets and enrolment embeddings.
embed_teacher() {  # embed_teacher <data dir> <out npz>
  python -m kdspeech.bin.embed --config "${teacher_conf}" --teacher "${teacher_set}" --data "$1" --out "$2" --sr "${fs}" \
    --min_seconds "${min_enroll_seconds}"
}
mix_set() {  # mix_set <sources> <enrolment dir> <noises> <rirs> <out> <mixtures>
  python -m kdspeech.bin.mix_pse --sources "$1" --enroll "$2" --noises "$3" ${4:+--rirs "$4"} --out "$5" \
    --num_mixtures "$6" --duration "${mix_seconds}" --seed "${seed}" --sr "${fs}" --conf "${mix_conf}"
}
test_enrolment() {  # test_enrolment <out dir> <test set dirs...>: every test utterance's enrolment clip, embedded
  local out=$1 d
  shift
  mkdir -p "${out}"
  for d in "$@"; do
    [ -f "${d}/utt2enroll" ] || { log "ERROR: ${d}/utt2enroll not found: a personalized test set names each utterance's enrolment clip"; return 1; }
    cat "${d}/utt2enroll"
  done | sort > "${out}/wav.scp.tmp"
  if [ -n "$(cut -d' ' -f1 "${out}/wav.scp.tmp" | uniq -d | head -n 1)" ]; then
    log "ERROR: utterance $(cut -d' ' -f1 "${out}/wav.scp.tmp" | uniq -d | head -n 1) is in two test sets; their enrolment tables would clash"
    return 1
  fi
  mv "${out}/wav.scp.tmp" "${out}/wav.scp"
  for d in "$@"; do cat "${d}/utt2spk"; done | sort > "${out}/utt2spk"
  python -m kdspeech.bin.validate_data_dir "${out}"
  embed_teacher "${out}" "${out}/emb.npz"
}

sets_params=(--param "seed=${seed}" --param "fs=${fs}" --param "mix_seconds=${mix_seconds}" --conf "${mix_conf}")
stage_run 3 "split ${train_sources}: enrolment clips, train and valid sources" --out "${pse}/train_split" \
  --out "${pse}/train_split/train" \
  --deps "${raw}/${train_sources}" --param "seed=${seed}" -- \
  python -m kdspeech.bin.split_sources --data "${raw}/${train_sources}" --out "${pse}/train_split" --seed "${seed}"
stage_run 3 "teacher embeddings of the training enrolment clips" --out "${pse}/enroll_train" --deps "${pse}/train_split" \
  --conf "${teacher_conf}" --param "fs=${fs}" --param "min_enroll_seconds=${min_enroll_seconds}" -- \
  embed_teacher "${pse}/train_split/enroll" "${pse}/enroll_train/emb.npz"
stage_run 3 "validation mixtures (${valid_mixtures} x ${mix_seconds} s)" --out "${pse}/valid" --deps "${pse}/train_split" \
  --deps "${raw}/${noises}" ${rirs:+--deps "${raw}/${rirs}"} "${sets_params[@]}" -- \
  mix_set "${pse}/train_split/valid" "${pse}/train_split/enroll" "${raw}/${noises}" "${rirs:+${raw}/${rirs}}" \
    "${pse}/valid" "${valid_mixtures}"
test_deps=()
if [ -n "${test_sources}" ]; then
  tn=${test_noises:-${noises}} tr=${test_rirs:-${rirs}}
  stage_run 3 "split ${test_sources}: enrolment clips and test targets" --out "${pse}/test_split" \
    --deps "${raw}/${test_sources}" --param "seed=${seed}" -- \
    python -m kdspeech.bin.split_sources --data "${raw}/${test_sources}" --out "${pse}/test_split" --seed "${seed}" \
      --valid_fraction 0
  stage_run 3 "synthetic test mixtures (${test_mixtures} x ${mix_seconds} s)" --out "${pse}/test" \
    --deps "${pse}/test_split" --deps "${raw}/${tn}" ${tr:+--deps "${raw}/${tr}"} "${sets_params[@]}" -- \
    mix_set "${pse}/test_split/train" "${pse}/test_split/enroll" "${raw}/${tn}" "${tr:+${raw}/${tr}}" \
      "${pse}/test" "${test_mixtures}"
fi
# Blind sets of your own (data-dir paths no stage makes): checked and resampled here, at stage 3.
external_sets 3 import_set --param "fs=${fs}" -- ${test_sets}
for t in "${ext_sets[@]}"; do
  [ -f "${t}/utt2enroll" ] || { log "ERROR: test set ${t} has no utt2enroll (each recording's enrolment clip):" \
    "make the set with python -m kdspeech.bin.data_dir_from --audio <recordings> --enrol <enrolment clips> --out ${t}"; exit 1; }
  if [ "${stop_stage}" -ge 4 ] && [ "${stage}" -gt 3 ] && [ ! -f "$(set_dir "${t}")/.done" ]; then
    log "ERROR: test set ${t} is new: run from stage 3 (--stage 3), which checks it and embeds its enrolment clips"
    exit 1
  fi
done
test_sets=$(for t in ${test_sets}; do set_dir "${t}"; done | tr '\n' ' ')
test_sets=${test_sets% }
enh_test_sets=${test_sets}
for t in ${test_sets}; do test_deps+=(--deps "${t}"); done
stage_run 3 "teacher embeddings of the test enrolment clips" --out "${pse}/enroll_test" "${test_deps[@]}" \
  --conf "${teacher_conf}" --param "fs=${fs}" --param "min_enroll_seconds=${min_enroll_seconds}" -- \
  test_enrolment "${pse}/enroll_test" ${test_sets}

# ---------------------------------------------------------------------------------------------------
# Stages 4-9: train, enhance, score, DNSMOS, deployment (enh.sh).
enh_range 4 9

# ---------------------------------------------------------------------------------------------------
# Stage 10: the similarity scale alpha of --alpha_model, at inference, on the validation and test sets.
enhance_alpha() {  # enhance_alpha <model dir> <set dir> <out dir> <alpha> <enrolment table>
  utils/enhance.sh --nj "${nj}" --fs "${fs}" --device cpu \
    --enhance_opts "--enroll_emb $5 --model_conf alpha=$4" "$1" "$2" "$3"
}
score_alpha() {  # score_alpha <set dir> <estimates scp> <out dir>
  utils/score.sh --nj "${nj}" --fs "${fs}" --metrics "${alpha_metrics}" "$1" "$2" "$3"
}
set_label() {  # set_label <set dir>: the set's name in the results (the paper's track names)
  case $(basename "$1") in
    test) echo synth ;;
    *track1*) echo track1 ;;
    *track2*) echo track2 ;;
    *) basename "$1" ;;
  esac
}
alpha_sets=("${pse}/valid=${pse}/enroll_train/emb.npz")
for t in ${test_sets}; do alpha_sets+=("${t}=${pse}/enroll_test/emb.npz"); done
alpha_model_dep="--deps ${expdir}/${alpha_model}"   # out of range: only recorded by stage_run
if [ -n "${alpha_model}" ] && in_range 10; then
  alpha_model_dep=$(model_dep "${alpha_model}") || exit 1
fi
if [ -n "${alpha_model}" ]; then
  for a in ${alpha_sweep}; do
    for entry in "${alpha_sets[@]}"; do
      t=${entry%%=*} table=${entry#*=} out=${expdir}/${alpha_model}/enhanced_$(basename "${t}")_alpha${a}
      # shellcheck disable=SC2086  # option words
      stage_run 10 "enhance $(basename "${t}") with ${alpha_model} at alpha ${a}" --out "${out}" \
        ${alpha_model_dep} --deps "${t}" --param "fs=${fs}" -- \
        enhance_alpha "${expdir}/${alpha_model}" "${t}" "${out}" "${a}" "${table}"
      stage_run 10 "DNSMOS of $(basename "${t}") by ${alpha_model} at alpha ${a}" \
        --out "${expdir}/${alpha_model}/score_dnsmos_$(basename "${t}")_alpha${a}" --deps "${out}" \
        --param "fs=${fs}" --param "metrics=${alpha_metrics}" -- \
        score_alpha "${t}" "${out}/wav.scp" "${expdir}/${alpha_model}/score_dnsmos_$(basename "${t}")_alpha${a}"
    done
  done
fi

# ---------------------------------------------------------------------------------------------------
# Stage 11: results.
result_args=() result_deps=()
model_list=${models}
[ -n "${model_list}" ] || model_list=$(while read -r name _; do [ -n "${name}" ] && echo "${name}"; done <<< "${systems}")
for t in ${test_sets}; do
  tn=$(basename "${t}") label=$(set_label "${t}")
  for m in noisy ${model_list}; do
    dirs=${expdir}/${m}/score_dnsmos_${tn}
    [ ! -f "${t}/spk1.scp" ] || [ -z "${metrics}" ] || dirs+=",${expdir}/${m}/score_${tn}"
    result_args+=(--system "${m}:${label}=${dirs}")
    for d in ${dirs//,/ }; do result_deps+=(--deps "${d}"); done
  done
done
if [ "${deploy}" = true ]; then
  result_args+=(--deploy "${expdir}/deploy/deploy.json")
  result_deps+=(--deps "${expdir}/deploy")
fi
if [ -n "${alpha_model}" ]; then
  first_test=${test_sets%% *}
  for a in ${alpha_sweep}; do
    result_args+=(--alpha "${a}=${expdir}/${alpha_model}/score_dnsmos_$(basename "${first_test}")_alpha${a}"
                  --alpha_valid "${a}=${expdir}/${alpha_model}/score_dnsmos_valid_alpha${a}")
    result_deps+=(--deps "${expdir}/${alpha_model}/score_dnsmos_$(basename "${first_test}")_alpha${a}"
                  --deps "${expdir}/${alpha_model}/score_dnsmos_valid_alpha${a}")
  done
  result_args+=(--alpha_metric "${alpha_metric}" --alpha_set "$(set_label "${first_test}")" --light "${alpha_model}")
fi
[ -z "${baseline}" ] || result_args+=(--baseline "${baseline}")
for e in ${encoders}; do result_args+=(--encoders "${e}"); done
[ -z "${paper_results}" ] || result_args+=(--paper "${paper_results}")
result_confs=()
if [ -n "${results_note}" ]; then result_args+=(--note "${results_note}"); result_confs+=(--conf "${results_note}"); fi
run_results=${expdir}/results   # this run's results, laid out as the committed ones
stage_run 11 "results" --out "${run_results}/${results_dir}" "${result_deps[@]}" "${result_confs[@]}" -- \
  python -m kdspeech.bin.make_results_pse "${result_args[@]}" --run_command "${run_command:-${pse_command}}" \
    --title "$(basename "$(dirname "$PWD")")/$(basename "$PWD"): personalized speech enhancement" \
    --out "${run_results}/${results}" --plot_dir "${run_results}/${results_dir}"
if in_range 11; then log "results: ${run_results}/${results} (plots in ${run_results}/${results_dir}/)"; fi

# Stage 12: against the committed results (the reference), which only --update_results true rewrites.
compare_with_committed 12
