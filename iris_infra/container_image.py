"""The backend's container image: an ECR repository and one single-platform image pushed to it."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker

# Functions and rollbacks pin digests: keep enough history that a pinned digest is never expired.
KEEP_IMAGES = 10


@dataclass(frozen=True)
class ContainerImageArgs:
    platform: str
    context: str = "backend"
    dockerfile: str = "backend/Dockerfile"
    tag: str = "latest"
    # Lets `pulumi destroy` remove a repository that still holds images (never on prod).
    force_delete: bool = False


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
            opts=child,
        )

        self.repository_url = repository.repository_url
        self.image_uri = pulumi.Output.all(repository.repository_url, image.repo_digest).apply(
            lambda parts: digest_reference(parts[0], parts[1])
        )
        self.register_outputs({"repository_url": self.repository_url, "image_uri": self.image_uri})


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
