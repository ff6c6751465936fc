"""How local mode reads environments: conda files, MLflow models, curated names, pip's settings.

No builds here (see test_environments.py for deployments that build and serve).
"""

import os
import subprocess
import sys

import pytest
import yaml
from azml_local.serving import conda, curated, installer
from azml_local.serving.environments import (
    SERVER,
    ProvisionError,
    ScoringEnvironment,
    for_mlflow_model,
    from_conda_file,
)

RUNNING = ".".join(str(p) for p in sys.version_info[:2])
OTHER = "3.10" if RUNNING != "3.10" else "3.12"


# Conda match specs (docs.conda.io user-guide/concepts/pkg-specs): `=` is a fuzzy "starts with",
# `==` and a bare version after a space are exact, ranges stay ranges.
@pytest.mark.parametrize(("spec", "requirement"), [
    ("scikit-learn=1.7.0", "scikit-learn==1.7.0.*"),
    ("numpy=1.22", "numpy==1.22.*"),
    ("numpy=1.22.*", "numpy==1.22.*"),
    ("numpy==1.22.4", "numpy==1.22.4"),
    ("numpy 1.22.4", "numpy==1.22.4"),
    ("pandas~=1.5.3", "pandas~=1.5.3"),
    ("scipy>=1.10,<2", "scipy>=1.10,<2"),
    ("conda-forge::scipy=1.16.0", "scipy==1.16.0.*"),
    ("numpy[version='>=1.20']", "numpy>=1.20"),
    ("joblib", "joblib"),
    ("pytorch=2.1", "torch==2.1.*"),
    ("py-xgboost=1.7.6", "xgboost==1.7.6.*"),
])
def test_conda_specs_become_pip_requirements(spec, requirement):
    assert conda.to_pip(spec)[0] == requirement


def test_build_strings_are_dropped_with_a_note():
    requirement, note = conda.to_pip("numpy=1.26.4=py311h64a7726_0")
    assert requirement == "numpy==1.26.4.*"
    assert "build string" in note


def test_interpreter_and_system_packages_are_not_installed():
    assert conda.to_pip("pip=25.1.1") == (None, None)
    requirement, note = conda.to_pip("cudatoolkit=11.8")
    assert requirement is None and "not a Python package" in note


def test_alternatives_have_no_pip_form():
    with pytest.raises(conda.CondaError, match="numpy=1.11.1|1.11.3"):
        conda.to_pip("numpy=1.11.1|1.11.3")
    with pytest.raises(ProvisionError) as raised:
        from_conda_file("dependencies:\n  - numpy=1.11.1|1.11.3\n")
    assert raised.value.code == "ImageBuildFailure"


def test_a_conda_file_as_azure_samples_write_it():
    # The shape of azureml-examples cli/endpoints/online/model-1/environment/conda.yaml.
    text = f"""\
name: model-env
channels:
  - conda-forge
dependencies:
  - python={OTHER}
  - numpy=2.3.1
  - pip=25.1.1
  - scikit-learn=1.7.0
  - scipy=1.16.0
  - pip:
    - azureml-inference-server-http==1.4.1
    - inference-schema[numpy-support]
    - joblib
"""
    environment = from_conda_file(text)
    assert environment.conda == ["numpy==2.3.1.*", "scikit-learn==1.7.0.*", "scipy==1.16.0.*"]
    # The pip section exactly as written: the user's own server pin, nothing of ours added.
    assert environment.pip == ["azureml-inference-server-http==1.4.1",
                               "inference-schema[numpy-support]", "joblib"]
    assert environment.python == OTHER
    assert [n for n in environment.notes if "Python" in n] == [
        f"the environment asks for Python {OTHER}; the stand-in has no conda and builds every "
        f"scoring environment on its own Python {conda.running_python()}"]


def test_the_running_python_gets_no_note():
    assert conda.python_note(RUNNING) is None
    assert conda.python_note(conda.running_python()) is None
    assert conda.python_note(OTHER) == (
        f"the environment asks for Python {OTHER}; the stand-in has no conda and builds every "
        f"scoring environment on its own Python {conda.running_python()}")


def test_environments_differ_by_content_and_share_by_content():
    one = from_conda_file("dependencies:\n  - python=3.11\n  - pip:\n    - joblib==1.6.0\n")
    same = from_conda_file("name: x\nchannels: [defaults]\ndependencies:\n"
                           "  - python=3.12\n  - pip:\n    - joblib==1.6.0\n")
    conda_side = from_conda_file("dependencies:\n  - joblib==1.6.0\n")
    assert one.key() == same.key()  # name, channels and the asked Python do not change the venv
    assert one.key() != conda_side.key()  # a conda-section package is a separate install step


# --- MLflow models: the python_function flavour's env ------------------------------------------
MLMODEL_NEW = {"flavors": {"python_function": {
    "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
    "loader_module": "mlflow.sklearn"}}}
MLMODEL_OLD = {"flavors": {"python_function": {"env": "conda.yaml",
                                                "loader_module": "mlflow.sklearn"}}}
MODEL_CONDA = """\
channels:
- conda-forge
dependencies:
- python=3.11.7
- pip<=26.3
- pip:
  - mlflow==3.17.2
  - cloudpickle==3.1.3
  - scikit-learn==1.9.1
name: mlflow-env
"""


@pytest.mark.parametrize("mlmodel", [MLMODEL_NEW, MLMODEL_OLD], ids=["env-dict", "env-string"])
def test_mlflow_environment_comes_from_the_models_conda_file(tmp_path, mlmodel):
    folder = tmp_path / "azureml-models" / "m" / "1" / "model"
    folder.mkdir(parents=True)
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    (folder / "conda.yaml").write_text(MODEL_CONDA)
    (folder / "requirements.txt").write_text("mlflow==3.17.2\ncloudpickle==2.0.0\n"
                                             "scikit-learn==1.2.2\n")
    environment = for_mlflow_model(tmp_path / "azureml-models" / "m" / "1")
    assert environment.pip == ["mlflow==3.17.2", "cloudpickle==3.1.3", "scikit-learn==1.9.1"]
    assert environment.server_if_missing == SERVER


def test_mlflow_model_without_a_conda_file_uses_requirements_txt(tmp_path):
    (tmp_path / "MLmodel").write_text(yaml.safe_dump(
        {"flavors": {"python_function": {"loader_module": "mlflow.sklearn"}}}))
    (tmp_path / "requirements.txt").write_text("mlflow==3.17.2\nscikit-learn==1.9.1\n")
    environment = for_mlflow_model(tmp_path)
    assert environment.pip == ["mlflow==3.17.2", "scikit-learn==1.9.1"]
    assert any("requirements.txt" in note for note in environment.notes)


# --- curated environments ----------------------------------------------------------------------
@pytest.mark.parametrize("environment_id", [
    "azureml://registries/azureml/environments/sklearn-1.5/labels/latest",
    "azureml://registries/azureml/environments/sklearn-1.5/versions/44",
    "azureml:AzureML-sklearn-1.5@latest",
    "azureml:AzureML-sklearn-1.5:44",
])
def test_curated_sklearn_resolves_in_every_form(environment_id):
    entry, note = curated.resolve(environment_id)
    assert entry.name == "sklearn-1.5"
    # As assets/training/general/environments/sklearn-1.5/context/conda_dependencies.yaml lists.
    environment = from_conda_file(entry.conda_file())
    assert environment.pip == ["azureml-inference-server-http", "scikit-learn~=1.5.0",
                               "joblib~=1.2.0"]
    assert environment.conda == ["numpy", "scipy", "pandas"]
    assert environment.python == "3.10"
    assert "sklearn-1.5" in note and "azureml-assets" in note


@pytest.mark.parametrize(("name", "framework"), [
    ("lightgbm-3.3", "lightgbm>=4.6.0"), ("lightgbm-3.3", "xgboost~=1.7.6"),
    ("tensorflow-2.16-cuda12", "tensorflow==2.16.2"),
    ("acpt-pytorch-2.8-cuda12.6", "torch==2.8.0"),
    ("mlflow-py312-inference", "mlflow"), ("minimal-py311-inference", "joblib"),
])
def test_curated_families_carry_their_framework_and_a_server(name, framework):
    entry, _ = curated.resolve(f"azureml://registries/azureml/environments/{name}/labels/latest")
    environment = from_conda_file(entry.conda_file())
    assert framework in environment.pip
    assert any(line.startswith("azureml-inference-server-http") for line in environment.pip)


def test_unknown_curated_and_other_registries_are_named():
    with pytest.raises(curated.UnknownEnvironment, match="'sklearn-0.24-ubuntu18.04-py37-cpu'"):
        curated.resolve("azureml:AzureML-sklearn-0.24-ubuntu18.04-py37-cpu@latest")
    with pytest.raises(curated.UnknownEnvironment, match="registry 'contoso'"):
        curated.resolve("azureml://registries/contoso/environments/sklearn-1.5/versions/1")
    assert not curated.is_curated_or_registry(
        "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/"
        "workspaces/w/environments/mine/versions/1")


# --- pip's index settings, told to uv ----------------------------------------------------------
def _pip_settings_with(monkeypatch, tmp_path, config: str, **env) -> dict:
    conf = tmp_path / "pip.conf"
    conf.write_text(config)
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    for name in [k for k in os.environ if k.startswith("PIP_") and k != "PIP_CONFIG_FILE"]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return installer.pip_settings()


def test_pip_settings_follow_pips_precedence(monkeypatch, tmp_path):
    settings = _pip_settings_with(
        monkeypatch, tmp_path,
        "[global]\nindex-url = https://global.invalid/simple\n"
        "extra-index-url = https://a.invalid/simple https://b.invalid/simple\n"
        "[install]\nfind-links = /srv/wheels\n",
        PIP_INDEX_URL="https://env.invalid/simple")
    assert settings["index-url"] == ["https://env.invalid/simple"]  # environment wins
    assert settings["extra-index-url"] == ["https://a.invalid/simple", "https://b.invalid/simple"]
    assert settings["find-links"] == ["/srv/wheels"]
    flags, _ = installer.uv_flags(settings)
    # (The machine's own pip files, e.g. a constraint, may add more flags between.)
    assert flags[:8] == ["--index-url", "https://env.invalid/simple",
                         "--extra-index-url", "https://a.invalid/simple",
                         "--extra-index-url", "https://b.invalid/simple",
                         "--find-links", "/srv/wheels"]
    # pip looks at every index for every package; uv only with this.
    assert flags[-2:] == ["--index-strategy", "unsafe-best-match"]


def test_pip_itself_agrees_with_what_uv_is_told(monkeypatch, tmp_path):
    settings = _pip_settings_with(monkeypatch, tmp_path,
                                  "[global]\nindex-url = https://global.invalid/simple\n")
    shown = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.index-url"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert settings["index-url"] == [shown]


def test_installs_keep_a_real_proxy_but_not_the_stand_ins(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("https_proxy", "http://proxy.corp.example:8080")
    env = installer.installer_env()
    assert "HTTPS_PROXY" not in env and env["https_proxy"] == "http://proxy.corp.example:8080"
    assert "https_proxy" not in installer.scoring_env()  # scoring talks to loopback only


def test_scoring_environment_key_includes_the_interpreter(monkeypatch):
    environment = ScoringEnvironment(pip=["joblib==1.6.0"])
    key = environment.key()
    monkeypatch.setattr(sys, "version_info", (3, 99, 0, "final", 0))
    assert environment.key() != key
