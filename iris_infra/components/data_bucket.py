"""A data file for functions to read: one object in a private, versioned S3 bucket.

Every upload of a changed file is a new object version, and its id is an output: a function
that carries the version in its configuration gets fresh containers when the file changes, and
a rollback of the function also rolls back the data it reads. So the id is only ever a real
one (`pinned_version`), and no version a function pins is deleted by the program: the object is
retained when its resource is deleted or replaced (pitfall 59).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

# A function or a rollback may still name an older version: the 10 newest noncurrent versions
# stay whatever their age, older ones go once they have been noncurrent this long.
KEEP_NONCURRENT_VERSIONS = 10
NONCURRENT_DAYS = 30
# Parts of an upload that never finished are billed as storage until aborted.
ABORT_UPLOADS_AFTER_DAYS = 1
# What S3 answers for an object written while the bucket is not (yet) versioned.
UNVERSIONED_IDS = ("", "null")
# S3's documentation: enabling versioning for the first time "may take up to 15 minutes" to
# propagate, and writes before then "may apply to unversioned objects".
VERSIONING_PROPAGATION_MINUTES = 15


class UnversionedUpload(ValueError):
    """S3 recorded the upload without a version id: no function may pin it."""


def pinned_version(version_id: str | None, bucket: str, key: str, urn: str) -> str:
    """`version_id` when it names a version; otherwise stop the deploy, before any function is
    given it, saying how to upload the file again.

    Stopping, not waiting: a first deploy on a new bucket would otherwise wait the whole
    VERSIONING_PROPAGATION_MINUTES every time (S3 gives no signal that versioning has applied,
    and usually it has within seconds), for a race that a re-upload fixes. Re-running alone
    would not: the file is unchanged, so Pulumi would not upload it again.
    """
    if version_id not in UNVERSIONED_IDS and version_id is not None:
        return version_id
    raise UnversionedUpload(
        f"S3 recorded s3://{bucket}/{key} with the version id {version_id!r}, which no function "
        "can pin: versioning on a new bucket can take up to "
        f"{VERSIONING_PROPAGATION_MINUTES} minutes to apply, and an object written before then "
        f"is unversioned. No function was given it. Wait {VERSIONING_PROPAGATION_MINUTES} "
        f"minutes, then upload the file again: pulumi up --replace '{urn}'"
    )


@dataclass(frozen=True)
class DatabaseBucketArgs:
    # The bucket's physical name (StackNames.data_bucket): global, so it carries the account.
    bucket_name: pulumi.Input[str]
    # The local file to upload, as Pulumi reads it; validated by the stack's config.
    database_file: str
    # The object's key in the bucket.
    key: str
    content_type: str = "application/vnd.sqlite3"
    # Lets `pulumi destroy` delete the bucket with every version still in it (never on prod).
    force_destroy: bool = False


class DatabaseBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    key: pulumi.Output[str]
    version_id: pulumi.Output[str]
    object_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: DatabaseBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("iris:index:DatabaseBucket", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)

        # Holds the data file.
        bucket = aws.s3.Bucket(
            f"{name}-bucket", bucket=args.bucket_name, force_destroy=args.force_destroy, opts=child
        )

        # The account owns every object and ACLs are off: access is IAM's alone.
        ownership = aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )

        # No ACL or bucket policy can ever make the data public.
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )

        # Encrypted at rest with S3-managed keys: no KMS key to pay for or grant.
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            opts=child,
        )

        # Every upload a new version with its own id, which the functions pin.
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=child,
        )

        # Bounds what old versions cost without expiring one a rollback may still read.
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                {
                    "id": "keep-recent-versions",
                    "status": "Enabled",
                    # Every object in the bucket.
                    "filter": {"prefix": ""},
                    "noncurrent_version_expiration": {
                        "noncurrent_days": NONCURRENT_DAYS,
                        "newer_noncurrent_versions": KEEP_NONCURRENT_VERSIONS,
                    },
                    "abort_incomplete_multipart_upload": {
                        "days_after_initiation": ABORT_UPLOADS_AFTER_DAYS
                    },
                }
            ],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )

        # Refuses every request not made over TLS, whoever makes it. After the public access
        # block: S3 rejects concurrent changes to one bucket's settings.
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=pulumi.Output.json_dumps(_tls_only_policy(bucket.arn)),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )

        # The file itself, uploaded once versioning is on (an object put before it has the
        # version id "null", which no function could pin) and the bucket's settings hold.
        # Retained, never deleted, when the resource goes or is replaced (a rename, a new key,
        # `--replace`): the provider would delete every version of the key, the new upload's
        # and those that functions and rollbacks pin among them. Expiring old versions is the
        # lifecycle rule's job; a prod bucket must then be emptied before `pulumi destroy`.
        database = aws.s3.BucketObjectv2(
            f"{name}-object",
            bucket=bucket.bucket,
            key=args.key,
            source=pulumi.FileAsset(args.database_file),
            content_type=args.content_type,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[versioning, encryption, ownership],
                retain_on_delete=True,
            ),
        )

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.key = database.key
        self.version_id = pulumi.Output.all(
            database.version_id, bucket.bucket, database.key, database.urn
        ).apply(lambda found: pinned_version(*found))
        self.object_arn = database.arn
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "key": self.key,
                "version_id": self.version_id,
                "object_arn": self.object_arn,
            }
        )


def _tls_only_policy(bucket_arn: pulumi.Input[str]) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyRequestsWithoutTls",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
