"""Settings for benchmark runs only: the project's settings unchanged, except the URLconf, which
adds the ceiling view (bench/urls.py). Chosen with DJANGO_SETTINGS_MODULE=bench.settings; no
deployment names this module, so the view is never mounted outside a benchmark."""

from leadcaller.settings import *  # noqa: F401,F403

ROOT_URLCONF = "bench.urls"
