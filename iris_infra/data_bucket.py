"""A data file for functions to read: one object in a private, versioned S3 bucket.

Every upload of a changed file is a new object version, and its id is an output: a function
that carries the version in its configuration gets fresh containers when the file changes, and
a rollback of the function also rolls back the data it reads.
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
        database = aws.s3.BucketObjectv2(
            f"{name}-object",
            bucket=bucket.bucket,
            key=args.key,
            source=pulumi.FileAsset(args.database_file),
            content_type=args.content_type,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[versioning, encryption, ownership]
            ),
        )

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.key = database.key
        self.version_id = database.version_id
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
