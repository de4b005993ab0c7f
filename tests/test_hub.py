"""helpers.hub: TF Hub handles resolved through the course's offline folder and cache."""

import os

import pytest
import tensorflow_hub

from helpers import assets, backbones, hub
from support import fake_module, tfhub_like_resolve


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    for name in (hub.HANDLE_ENV, assets.OFFLINE_ENV, assets.NO_DOWNLOAD_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TFHUB_CACHE_DIR", "/learners/own/choice")
    monkeypatch.setenv(assets.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(backbones.BACKBONE_ENV, "mobilenet_v2")
    return tmp_path


def test_default_handle_follows_the_backbone(clean_env, monkeypatch):
    assert hub.handle() == "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5"
    assert "inception_v3" in hub.handle("inception_v3")
    monkeypatch.setenv(hub.HANDLE_ENV, "https://example.org/my/module/1")
    assert hub.handle() == "https://example.org/my/module/1"


def test_a_local_folder_is_used_as_it_is(clean_env, monkeypatch):
    monkeypatch.setenv(hub.HANDLE_ENV, str(clean_env))
    assert hub.resolve_module() == str(clean_env)


def test_a_module_in_the_offline_folder_is_used_without_tensorflow_hub(clean_env, monkeypatch):
    module = fake_module(hub.module_folder(clean_env / "usb", hub.handle()))
    monkeypatch.setenv(assets.OFFLINE_ENV, str(clean_env / "usb"))
    monkeypatch.setenv(assets.NO_DOWNLOAD_ENV, "1")
    monkeypatch.setattr(tensorflow_hub, "resolve", lambda handle: pytest.fail("tried to resolve online"))
    assert hub.resolve_module() == str(module)


def test_download_goes_to_the_course_cache_never_the_offline_folder(clean_env, monkeypatch):
    (clean_env / "usb" / hub.CACHE_SUBDIR).mkdir(parents=True)  # a bundle without this module
    monkeypatch.setenv(assets.OFFLINE_ENV, str(clean_env / "usb"))
    seen = []

    def resolve(handle):
        seen.append(os.environ["TFHUB_CACHE_DIR"])
        return str(fake_module(hub.module_folder(clean_env / "cache", handle)))

    monkeypatch.setattr(tensorflow_hub, "resolve", resolve)
    assert hub.resolve_module() == str(hub.module_folder(clean_env / "cache", hub.handle()))
    assert seen == [str(clean_env / "cache" / hub.CACHE_SUBDIR)]
    assert os.environ["TFHUB_CACHE_DIR"] == "/learners/own/choice"  # restored after the call


def test_missing_module_with_downloads_disabled(clean_env, monkeypatch):
    monkeypatch.setenv(assets.NO_DOWNLOAD_ENV, "1")
    with pytest.raises(assets.AssetError, match=r"TF Hub module https://tfhub.dev/.*downloads are disabled"):
        hub.resolve_module()


def test_failed_download_says_what_to_do(clean_env, monkeypatch):
    def unreachable(handle):
        raise OSError("network is unreachable")

    monkeypatch.setattr(tensorflow_hub, "resolve", unreachable)
    with pytest.raises(assets.AssetError, match=r"(?s)Could not download TF Hub module.*unreachable.*helpers.bundle"):
        hub.resolve_module()


def test_an_incomplete_module_in_the_offline_folder_is_named(clean_env, monkeypatch):
    module = hub.module_folder(clean_env / "usb", hub.handle())
    module.mkdir(parents=True)
    (module / "saved_model.pb").write_bytes(b"stand-in")  # the variables never made it onto the stick
    monkeypatch.setenv(assets.OFFLINE_ENV, str(clean_env / "usb"))
    with pytest.raises(assets.AssetError, match=r"variables/ are missing or incomplete.*Copy it again"):
        hub.resolve_module()


@pytest.mark.parametrize("left", [[], ["saved_model.pb"], ["saved_model.pb", "variables/variables.index"]])
def test_an_interrupted_module_download_in_the_cache_is_fetched_again(clean_env, monkeypatch, left):
    downloads = []
    monkeypatch.setattr(tensorflow_hub, "resolve", tfhub_like_resolve(downloads))
    module = fake_module(hub.module_folder(clean_env / "cache", hub.handle()))
    for path in ["variables/variables.data-00000-of-00001", "variables/variables.index", "saved_model.pb"]:
        if path not in left:
            (module / path).unlink()
    assert hub.resolve_module() == str(module)
    assert downloads == [hub.handle()]
    assert hub.module_problem(clean_env / "cache", module) is None
