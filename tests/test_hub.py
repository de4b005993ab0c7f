"""helpers.hub: TF Hub handles resolved through the course's offline folder and cache."""

import hashlib
import os

import pytest
import tensorflow_hub

from helpers import assets, hub


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    for name in (hub.HANDLE_ENV, assets.OFFLINE_ENV, assets.NO_DOWNLOAD_ENV, "TFHUB_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(assets.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv("GOING_DEEPER_BACKBONE", "mobilenet_v2")
    return tmp_path


def test_default_handle_follows_the_backbone(clean_env, monkeypatch):
    assert hub.handle() == "https://tfhub.dev/google/imagenet/mobilenet_v2_100_224/feature_vector/5"
    assert "inception_v3" in hub.handle("inception_v3")
    monkeypatch.setenv(hub.HANDLE_ENV, "https://example.org/my/module/1")
    assert hub.handle() == "https://example.org/my/module/1"


def test_a_local_folder_is_used_as_it_is(clean_env, monkeypatch):
    monkeypatch.setenv(hub.HANDLE_ENV, str(clean_env))
    assert hub.resolve_module() == str(clean_env)


def test_modules_cached_in_the_offline_folder_need_no_network(clean_env, monkeypatch):
    modules = clean_env / "usb" / hub.CACHE_SUBDIR
    cached = modules / hashlib.sha1(hub.handle().encode()).hexdigest()
    cached.mkdir(parents=True)
    monkeypatch.setenv(assets.OFFLINE_ENV, str(clean_env / "usb"))
    monkeypatch.setenv(assets.NO_DOWNLOAD_ENV, "1")
    monkeypatch.setattr(tensorflow_hub, "resolve",
                        lambda handle: str(os.path.join(os.environ["TFHUB_CACHE_DIR"], cached.name)))
    assert hub.resolve_module() == str(cached)


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
    assert os.environ["TFHUB_CACHE_DIR"] == str(clean_env / "cache" / hub.CACHE_SUBDIR)
