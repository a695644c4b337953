"""The lake: one resource for every environment, because the medium (a folder or `s3://`), not the environment,
decides how it is reached; the sandbox writes a real lake in a local folder."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:  # the lake imports pyarrow: a step that uses it pays for it, loading the definitions does not
    from spotify_ai_assets.core.kernel.lake import Lake


class LakeResource(dg.ConfigurableResource):
    """The lake root: a local folder or `s3://bucket/prefix` (AWS_ENDPOINT_URL for S3-compatible stores)."""

    root: str
    s3_endpoint_url: str | None = None

    def lake(self) -> Lake:
        from spotify_ai_assets.core.kernel.lake import Lake

        return Lake(self.root, s3_endpoint_url=self.s3_endpoint_url)
