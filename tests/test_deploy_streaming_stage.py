"""The templates' deployment stage passes ``--streaming`` to ``kdspeech.bin.deploy`` (``--deploy_streaming``,
issue 23): the report gets the streaming latency table of the causal students, a model that cannot stream
is listed with the reason (the stage does not fail), and the option is part of the stage's fingerprint
(turning it off re-runs the stage, without the table).

The smallest run of enh.sh's stage 9 alone: two models made elsewhere (``--skip_train``), a small CRN
and a Wave-U-Net, 0.4 s of streaming and one timed repeat.  pse.sh hands the option to enh.sh, spk.sh
and cls.sh add the same word (checked on their text: their stages need a trained run)."""

import json

import recipe_helpers as helpers
from test_templates_skip_train import WAVEUNET, make_recipe, run, save_model

CRN = {"channels": [8, 16, 32], "lstm_layers": 1, "lstm_hidden": 32}


def test_enh_deploy_stage_streams_the_causal_models(tmp_path):
    recipe = make_recipe(tmp_path / "recipe", "enh/enh.sh", "none")
    save_model(recipe / "exp/crn/best.pth", "crn", CRN)
    save_model(recipe / "exp/wun/best.pth", "waveunet", WAVEUNET)
    args = ["--nj", "1", "--stage", "9", "--stop_stage", "9", "--skip_train", "true", "--models", "crn wun",
            "--deploy", "true", "--deploy_onnx", "false", "--deploy_seconds", "0.5",
            "--deploy_opts", "--stream_seconds 0.4 --repeats 1"]
    run(recipe, "enh.sh", *args)
    report = json.loads((recipe / "exp/deploy/deploy.json").read_text())
    crn, wun = report["streaming"]
    assert crn["stream_status"] == "ok" and crn["latency_ms"] == 20.0 and crn["onnx_hop_p99_ms"] > 0
    assert wun["stream_status"] == "cannot stream" and "WaveUNet cannot stream" in wun["stream_error"]
    md = (recipe / "exp/deploy/deploy.md").read_text()
    assert "algorithmic latency (ms)" in md and "Cannot stream: WaveUNet cannot stream" in md

    again = run(recipe, "enh.sh", *args, "--deploy_streaming", "false")
    assert "Stage 9 (deployment report of crn wun): re-running" in again
    assert "streaming" not in json.loads((recipe / "exp/deploy/deploy.json").read_text())
    assert "algorithmic latency" not in (recipe / "exp/deploy/deploy.md").read_text()
    assert "up to date, skipped" in run(recipe, "enh.sh", *args, "--deploy_streaming", "false")


def test_every_template_has_the_option_and_passes_it_on():
    template = helpers.REPO / "egs" / "TEMPLATE"
    for script, default in (("enh/enh.sh", "true"), ("pse/pse.sh", "true"), ("spk/spk.sh", "true"),
                            ("cls/cls.sh", "false")):
        text = (template / script).read_text()
        assert f"\ndeploy_streaming={default} " in text, script
        if script == "pse/pse.sh":
            assert '--deploy_streaming "${deploy_streaming}"' in text
        else:
            assert '[ "${deploy_streaming}" = true ] && deploy_' in text and "+=(--streaming)" in text, script
