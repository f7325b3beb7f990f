"""Under pytest-xdist (`make test`), tests/test_site_build.py collects the browser test so
that it runs on the worker that builds the site; elsewhere (`make site-check`, plain pytest)
it is collected here as usual."""

import os


def pytest_ignore_collect(collection_path, config):
    if collection_path.name == "test_site_browser.py" and os.environ.get("PYTEST_XDIST_WORKER"):
        return True
    return None
