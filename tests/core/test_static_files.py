"""Static files as production serves them: collected by CompressedManifestStaticFilesStorage
(hashed names, gzip and brotli copies), served by core.middleware.StaticFilesMiddleware with a
year's cache lifetime; and only the CSS and JavaScript the pages use."""

import gzip
import importlib.util
import re

import brotli
import pytest
from django.core.management import call_command
from django.test import Client

from tests.pledges.factories import LetterFactory

pytestmark = pytest.mark.django_db

PRODUCTION_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    from django.test import override_settings

    root = tmp_path_factory.mktemp("static")
    with override_settings(STORAGES=PRODUCTION_STORAGES, STATIC_ROOT=root):
        call_command("collectstatic", "--noinput", "-v0")
    return root


@pytest.fixture
def production_static(settings, collected):
    settings.STORAGES = PRODUCTION_STORAGES
    settings.STATIC_ROOT = collected
    return collected


def _assets(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


def test_pages_name_hashed_files_served_compressed_for_a_year(production_static):
    LetterFactory()
    client = Client()
    html = client.get("/open-letter/").content.decode()
    assets = _assets(html)
    assert {a.rsplit("/", 1)[-1].split(".")[0] for a in assets} >= {
        "bootstrap",
        "portal",
        "favicon",
    }
    for url in assets:
        assert re.search(r"\.[0-9a-f]{12}\.\w+$", url), f"{url} has no content hash"
        plain = client.get(url)
        assert plain.status_code == 200
        body = b"".join(plain.streaming_content)
        assert plain["Cache-Control"] == "max-age=31536000, public, immutable"
        if url.endswith((".css", ".js", ".svg")):
            for encoding, decompress in (("br", brotli.decompress), ("gzip", gzip.decompress)):
                response = client.get(url, headers={"accept-encoding": f"{encoding}"})
                assert response["Content-Encoding"] == encoding, url
                assert response["Cache-Control"] == "max-age=31536000, public, immutable"
                assert "Accept-Encoding" in response["Vary"]
                assert decompress(b"".join(response.streaming_content)) == body


def test_the_home_page_weighs_little_compressed(production_static):
    """HTML + CSS + JS + images as a browser with Accept-Encoding: br, gzip fetches them."""
    client = Client()
    home = client.get("/", headers={"accept-encoding": "br, gzip"})
    total = len(gzip.compress(home.content))  # gunicorn sends HTML as is; a proxy would compress
    for url in _assets(home.content.decode()):
        response = client.get(url, headers={"accept-encoding": "br, gzip"})
        total += len(b"".join(response.streaming_content))
    assert total < 120_000  # the benchmark measures it over HTTP too
    assert "bootstrap.bundle" not in home.content.decode()  # no Bootstrap JavaScript


def test_the_bootstrap_subset_is_up_to_date_with_the_templates():
    """Run static_src/purge_css.py after changing templates (this test says so)."""
    from django.conf import settings

    spec = importlib.util.spec_from_file_location(
        "purge_css", settings.BASE_DIR / "static_src" / "purge_css.py"
    )
    purge_css = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(purge_css)
    assert purge_css.TARGET.read_text(encoding="utf-8") == purge_css.build(), (
        "run .venv/bin/python static_src/purge_css.py"
    )
    css = purge_css.TARGET.read_text(encoding="utf-8")
    for used in (".navbar-toggler", ".collapse:not(.show)", ".btn-primary", ".alert-danger"):
        assert used in css
    assert ".carousel" not in css and ".offcanvas" not in css  # unused components are gone
