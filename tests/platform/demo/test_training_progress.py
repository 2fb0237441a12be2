"""Demo training progress: the worker's progress file, the admin page, the form's notice."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from inference_worker import demo_training


@pytest.fixture
def var(monkeypatch, tmp_path):
    monkeypatch.setenv("OSTEOLENS_VAR_DIR", str(tmp_path / "var"))
    # The models folder follows the var folder here, whatever an earlier test exported.
    monkeypatch.delenv("MODELS_DIR", raising=False)
    return tmp_path / "var"


def test_steps_are_read_from_the_training_log():
    assert demo_training.parse_step("segmenter step 300/1200: loss 0.412") == (300, 1200)
    assert demo_training.parse_step("epoch 3 / 10") == (3, 10)
    assert demo_training.parse_step("prepared 4 train / 2 validation cases") is None
    assert demo_training.parse_step("step 0/10") is None


def test_estimate_uses_the_measured_total_then_the_stage_rate_then_nothing():
    expected = demo_training.EXPECTED_SECONDS[("sacral-ct", "quick")]
    assert demo_training.estimate_remaining("sacral-ct", "quick", 10) == expected - 10
    # A slow stage: 100 of 1000 steps in 50 s says 450 s more, longer than the prior.
    assert demo_training.estimate_remaining("sacral-ct", "quick", 55, (100, 1000), 50) == 450
    # Past the usual time with no step count: no made-up figure.
    assert demo_training.estimate_remaining("sacral-ct", "quick", expected + 5) is None


def test_progress_file_is_merged_and_replaced_whole(var):
    demo_training.write_progress("bone-xray", state="queued", stage="waiting")
    demo_training.write_progress("bone-xray", state="running", step=3)
    state = json.loads((var / "demo" / "training" / "bone-xray.json").read_text())
    assert state == {"task": "bone-xray", "state": "running", "stage": "waiting", "step": 3}
    assert [p.name for p in (var / "demo" / "training").iterdir()] == ["bone-xray.json"]


def test_training_data_outside_the_var_folder_is_refused(var):
    with pytest.raises(RuntimeError, match="escapes the var folder"):
        demo_training.run_training(
            task="bone-xray", n=2, seed=1, data="../../etc", splits={"train": 1.0}, quick=True
        )
    assert demo_training.read_progress("bone-xray")["state"] == "failed"


def test_a_failing_phantom_command_marks_the_run_failed(var):
    # An unknown split name: our phantoms command refuses it with a message.
    with pytest.raises(RuntimeError, match="making spine-xray phantoms failed"):
        demo_training.run_training(
            task="spine-xray", n=2, seed=1, data="demo/t/spine", splits={"nonsense": 1.0}, quick=True
        )
    state = demo_training.read_progress("spine-xray")
    assert state["state"] == "failed" and "nonsense" in state["error"]
    assert not (var / "demo" / "t" / "spine" / "manifest.csv").exists()


@pytest.mark.django_db
def test_admin_page_shows_each_task_and_only_admins_see_it(var, client_for, alice, rita, dora):
    from modelhub.models import ModelVersion

    ModelVersion.objects.create(
        task="sacral-ct",
        name="malignancy",
        version="1",
        sha256="x",
        status="serving",
        synthetic_training=True,
        metrics={"validation": {"auc_macro": 0.912}},
    )
    demo_training.write_progress(
        "bone-xray",
        state="running",
        recipe="full",
        stage="efficientnet-b3 fold 2",
        step=30,
        steps=60,
        elapsed=120,
        remaining=300,
    )
    url = reverse("demo:training")
    html = client_for(alice).get(url).content.decode()
    assert 'data-task="sacral-ct" data-state="ready"' in html
    assert 'data-task="bone-xray" data-state="running"' in html
    assert "efficientnet-b3 fold 2" in html and "30 / 60" in html and "about 300 s left" in html
    assert 'value="29"' in html  # 120 s of 420 s
    assert 'data-task="spine-xray" data-state="not started"' in html
    assert "validation AUC (macro): 0.912" in html
    assert client_for(rita).get(url).status_code == 403
    assert client_for(dora).get(url).status_code == 403
    assert client_for(None).get(url).status_code == 302


@pytest.mark.django_db
def test_second_opinion_form_says_how_many_models_are_ready(var, client_for, dora):
    from modelhub.models import ModelVersion

    client = client_for(dora)
    demo_training.write_progress("spine-xray", state="running", stage="ap", elapsed=5, remaining=40)
    for task in ("sacral-ct", "bone-xray"):
        ModelVersion.objects.create(task=task, name="m", version="1", sha256="x", status="serving")
    html = client.get(reverse("opinions:new")).content.decode()
    assert "Models still training: 2 of 3 ready." in html
    assert "about 40 s left" in html
    ModelVersion.objects.create(task="spine-xray", name="m", version="1", sha256="x", status="serving")
    assert 'id="models-notice"' not in client.get(reverse("opinions:new")).content.decode()


def test_the_worker_loads_models_from_where_the_demo_trains_them(var, monkeypatch):
    """Trainer, web side and the worker's model loader agree on the models folder (the
    loader used to look in the repository's var/ whatever OSTEOLENS_VAR_DIR said)."""
    from inference_worker import settings as shared
    from inference_worker.models import registry

    monkeypatch.delenv("MODELS_DIR", raising=False)
    assert registry.models_dir() == shared.models_dir() == var / "models"


def test_models_are_published_only_from_a_finished_run(tmp_path):
    staging, models = tmp_path / "staging" / "bone-xray", tmp_path / "models" / "bone-xray"
    (staging / "vit" / "1").mkdir(parents=True)
    (staging / "vit" / "1" / "weights.pt").write_bytes(b"w")
    # No card: the command did not finish this model, so nothing is published.
    with pytest.raises(RuntimeError, match="saved no model"):
        demo_training.publish_models(staging, models)
    assert not models.exists()
    (staging / "vit" / "1" / "card.json").write_text("{}")
    demo_training.publish_models(staging, models)
    assert sorted(p.name for p in (models / "vit" / "1").iterdir()) == ["card.json", "weights.pt"]
    assert demo_training.models_present("bone-xray", tmp_path / "models")


def test_a_task_whose_models_exist_is_reported_done_without_training(var):
    card = var / "models" / "bone-xray" / "efficientnet-b3" / "1" / "card.json"
    card.parent.mkdir(parents=True)
    card.write_text("{}")
    state = demo_training.run_training(
        task="bone-xray", n=2, seed=1, data="demo/t/bone", splits={"train": 1.0}, quick=True
    )
    assert state["state"] == "done" and state["stage"] == "models already trained"
    assert not (var / "demo" / "t" / "bone").exists()
