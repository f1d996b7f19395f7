"""A container image for a stack's functions: an ECR repository and either one single-platform
image built and pushed to it, or a digest already in it (imageUri) deployed as is, with no
build at all."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker

# Functions and rollbacks pin digests: keep enough history that a pinned digest is never expired.
# The 10 most recent pushes stay: the one running and the 9 before it, for rollbacks.
KEEP_IMAGES = 10


@dataclass(frozen=True)
class ContainerImageArgs:
    # The repository's physical name (StackNames.repository).
    repository_name: str
    platform: str
    # The build context and the Dockerfile, relative to the program's directory.
    context: str
    dockerfile: str
    tag: str = "latest"
    # Lets `pulumi destroy` remove a repository that still holds images (never on prod).
    force_delete: bool = False
    # A digest already pushed to this repository (`repo@sha256:...`): deployed as is, nothing
    # is built. Validated by StackConfig; checked against the repository when it is known.
    pinned_image_uri: str | None = None


class ContainerImage(pulumi.ComponentResource):
    repository_url: pulumi.Output[str]
    image_uri: pulumi.Output[str]

    def __init__(
        self, name: str, args: ContainerImageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("iris:index:ContainerImage", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)

        # The registry the function pulls from; every push is scanned for known CVEs.
        repository = aws.ecr.Repository(
            f"{name}-repository",
            name=args.repository_name,
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                scan_on_push=True
            ),
            force_delete=args.force_delete,
            opts=child,
        )

        # Bounds storage cost without ever expiring the digest a function still runs.
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=repository.name,
            policy=json.dumps(_keep_latest_images(KEEP_IMAGES)),
            opts=child,
        )

        self.repository_url = repository.repository_url
        if args.pinned_image_uri is not None:
            pinned = args.pinned_image_uri
            self.image_uri = repository.repository_url.apply(
                lambda url: pinned_reference(url, pinned)
            )
        else:
            self.image_uri = self._build_and_push(name, repository, args)
        self.register_outputs({"repository_url": self.repository_url, "image_uri": self.image_uri})

    def _build_and_push(
        self, name: str, repository: aws.ecr.Repository, args: ContainerImageArgs
    ) -> pulumi.Output[str]:
        token = aws.ecr.get_authorization_token_output(registry_id=repository.registry_id)

        # Built for exactly one platform and pushed as one manifest: Lambda rejects image indexes.
        image = docker.Image(
            f"{name}-image",
            image_name=repository.repository_url.apply(lambda url: f"{url}:{args.tag}"),
            build=docker.DockerBuildArgs(
                context=args.context,
                dockerfile=args.dockerfile,
                platform=args.platform,
            ),
            registry=docker.RegistryArgs(
                server=repository.repository_url,
                username=token.user_name,
                password=pulumi.Output.secret(token.password),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return pulumi.Output.all(repository.repository_url, image.repo_digest).apply(
            lambda parts: digest_reference(parts[0], parts[1])
        )


def digest_reference(repository_url: str, repo_digest: str | None) -> str:
    """`repo@sha256:...`: the only image reference form Lambda accepts and that pins one build.

    Built from the repository URL and the digest alone, so neither a tag (`repo:tag@sha256:`,
    which Lambda rejects) nor another repository's name can slip into the function.
    """
    _, at, digest = (repo_digest or "").rpartition("@")
    if not at or not digest.startswith("sha256:") or len(digest) != len("sha256:") + 64:
        raise ValueError(
            f"expected a pushed image digest (repo@sha256:<64 hex>), got {repo_digest!r}"
        )
    return f"{repository_url}@{digest}"


def pinned_reference(repository_url: str, image_uri: str) -> str:
    """`image_uri` when it is a digest in this stack's repository, else a refusal.

    The repository's name is only known once it exists, so this runs when its URL resolves:
    a preview of an existing stack, or `pulumi up` before the functions are touched. Another
    repository's digest is refused: this stack's lifecycle rule is what keeps it available.
    """
    repository, _, digest = image_uri.rpartition("@")
    if repository != repository_url:
        raise ValueError(
            f"imageUri={image_uri!r} is not in this stack's ECR repository {repository_url}; "
            f"expected {repository_url}@{digest or 'sha256:<64 hex>'}: push or copy the image "
            "there, or pick one of its digests with `aws ecr describe-images`"
        )
    return digest_reference(repository_url, image_uri)


def _keep_latest_images(count: int) -> dict:
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"Keep the {count} most recent images",
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": count,
                },
                "action": {"type": "expire"},
            }
        ]
    }
