"""The database version the functions pin is a real one, and stays: the program stops rather
than give a function an empty or "null" version id (what S3 records for an object written before
a new bucket's versioning has applied), and never deletes the versions of the key.

The provider, deleting an `aws.s3.BucketObjectv2` in a versioned bucket, deletes every version
of the key: replacing the resource (a rename, `--replace`) would upload the new version and then
delete it with all the others, and every function would answer 503 (pitfall 59)."""

from __future__ import annotations

import asyncio
import gc
import re
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from iris_infra.apps.spendsense.config import SpendSenseConfig
from iris_infra.components.data_bucket import UnversionedUpload, pinned_version
from tests.infra.conftest import settle_previous_program
from tests.spendsense_infra.conftest import BuiltStack, StackRecording, build_spendsense

FUNCTION = "aws:lambda/function:Function"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
# What S3 may record for the upload, as the provider reports it: no version id at all, an empty
# one (a bucket whose versioning has not applied), "null" (versioning suspended).
UNVERSIONED = [None, "", "null"]


class UnversionedS3(StackRecording):
    """The mocks, with S3 recording the database object under `version_id`."""

    def __init__(self, version_id: str | None) -> None:
        super().__init__()
        self.version_id = version_id

    def computed(self, args: pulumi.runtime.MockResourceArgs, name: str) -> dict[str, Any]:
        outputs = super().computed(args, name)
        if args.typ == OBJECT:
            outputs.pop("versionId")
            if self.version_id is not None:
                outputs["versionId"] = self.version_id
        return outputs


def forget_failed_program() -> None:
    """End the registrations that waited for the failed version, and take the error from each
    of their outputs' futures: the program has failed, and nothing awaits them any more. Left
    alone, asyncio prints each as "Future exception was never retrieved" when the run ends."""
    settle_previous_program()
    for found in gc.get_objects():
        if isinstance(found, asyncio.Future) and found.done() and not found.cancelled():
            found.exception()


def test_the_database_object_is_left_in_s3_when_its_resource_goes(built: BuiltStack) -> None:
    assert "spendsense-data-object" in built.records.retained
    # Only the object: the bucket's own settings go with the stack.
    assert built.records.retained == {"spendsense-data-object"}


@pytest.mark.parametrize("version_id", UNVERSIONED)
def test_an_upload_without_a_version_id_stops_the_deploy_before_any_function(
    version_id: str | None, config_of: Callable[..., SpendSenseConfig]
) -> None:
    recording = UnversionedS3(version_id)

    # The engine reports it as the error of each resource that waited for the version.
    with pytest.raises(ValueError, match="S3 recorded s3://") as stopped:
        build_spendsense(config_of(deployment="single"), recording)
    error = str(stopped.value)
    forget_failed_program()

    assert recording.of_type(OBJECT)
    assert recording.of_type(FUNCTION) == []
    (message,) = re.findall(r"S3 recorded .*", error)
    assert re.match(
        rf"S3 recorded s3://spendsense-dev-data-123456789012/spendsense\.db with the version id "
        rf"{re.escape(repr(version_id))}, which no function can pin: versioning on a new bucket "
        r"can take up to 15 minutes to apply",
        message,
    )
    object_urn = r"urn:pulumi:dev::[a-z-]+::iris:index:DatabaseBucket\$aws:s3/bucketObjectv2:"
    assert re.search(
        rf"Wait 15 minutes, then upload the file again: pulumi up --replace "
        rf"'{object_urn}BucketObjectv2::spendsense-data-object'$",
        message,
    )


@pytest.mark.parametrize("version_id", ["3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", "v1", "nullable"])
def test_a_real_version_id_is_pinned_as_it_is(version_id: str) -> None:
    assert pinned_version(version_id, "bucket", "key", "urn") == version_id


@pytest.mark.parametrize("version_id", UNVERSIONED)
def test_a_missing_or_null_version_id_is_never_pinned(version_id: str | None) -> None:
    with pytest.raises(UnversionedUpload, match="s3://bucket/key with the version id"):
        pinned_version(version_id, "bucket", "key", "urn")
