"""Hydra search-path plugin (test only): $REFMGR_TEST_FISH_CONFIG_DIR joins every config search.

Hydra discovers plugins in the ``hydra_plugins`` namespace package on sys.path.
"""

import os

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


class RefmgrTestConfigs(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        directory = os.environ.get("REFMGR_TEST_FISH_CONFIG_DIR")
        if directory:
            search_path.append(provider="refmgr-tests", path=f"file://{os.path.abspath(directory)}")
