"""Creation times for manifests. SOURCE_DATE_EPOCH (reproducible-builds.org) fixes them."""

from __future__ import annotations

import os
import time


def utc_now() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    seconds = int(epoch) if epoch and epoch.isdigit() else int(time.time())
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
