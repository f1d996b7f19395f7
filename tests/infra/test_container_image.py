"""ContainerImage: an ECR repository, a lifecycle that keeps history, one image per platform,
and a `repo@sha256:` reference that Lambda accepts."""

from __future__ import annotations

import json
import re

import pytest

from iris_infra.components.container_image import (
    KEEP_IMAGES,
    ContainerImage,
    ContainerImageArgs,
    digest_reference,
    pinned_reference,
)
from tests.infra.conftest import repository_url

DIGEST_URI = re.compile(
    r"[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/[a-z0-9-]+@sha256:[0-9a-f]{64}"
)


def build(mocks, resolve, **args):
    def program():
        image = ContainerImage(
            "img",
            ContainerImageArgs(
                repository_name="iris-dev",
                platform="linux/arm64",
                context="app",
                dockerfile="app/Dockerfile",
                **args,
            ),
        )
        return {"image_uri": image.image_uri, "repository_url": image.repository_url}

    return resolve(program)


def test_the_image_is_built_from_its_context_for_one_platform(mocks, resolve):
    build(mocks, resolve)
    image = mocks.resource("docker:index/image:Image", "img-image")
    assert image.inputs["build"] == {
        "context": "app",
        "dockerfile": "app/Dockerfile",
        "platform": "linux/arm64",
    }


def test_the_image_is_pushed_to_its_repository_with_ecr_credentials(mocks, resolve):
    outputs = build(mocks, resolve)
    image = mocks.resource("docker:index/image:Image", "img-image")
    assert image.inputs["imageName"] == f"{outputs['repository_url']}:latest"
    # The registry credentials travel as a secret.
    assert mocks.is_secret(image.inputs["registry"])
    assert mocks.plain(image.inputs["registry"]) == {
        "server": outputs["repository_url"],
        "username": "AWS",
        "password": "mock-ecr-password",
    }
    assert image.inputs.get("skipPush") in (None, False)


def test_image_uri_is_the_pushed_digest_without_a_tag(mocks, resolve):
    outputs = build(mocks, resolve)
    image = mocks.resource("docker:index/image:Image", "img-image")
    assert DIGEST_URI.fullmatch(outputs["image_uri"]), outputs["image_uri"]
    assert outputs["image_uri"] == image.outputs["repoDigest"]
    assert ":latest" not in outputs["image_uri"]


def test_the_image_is_not_built_on_preview(mocks, resolve):
    """pulumi_docker 5's Image skips the build on preview unless asked to (pitfall 17)."""
    build(mocks, resolve)
    image = mocks.resource("docker:index/image:Image", "img-image")
    assert image.inputs.get("buildOnPreview") in (None, False)


def test_a_tagged_repo_digest_still_gives_a_plain_digest_uri(mocks, resolve):
    """A push that reports `repo:latest@sha256:...` must not reach Lambda in that form."""
    mocks.tagged_repo_digests = True
    outputs = build(mocks, resolve)
    image = mocks.resource("docker:index/image:Image", "img-image")
    digest = image.outputs["repoDigest"].rpartition("@")[2]
    assert image.outputs["repoDigest"] == f"{outputs['repository_url']}:latest@{digest}"
    assert outputs["image_uri"] == f"{outputs['repository_url']}@{digest}"
    assert DIGEST_URI.fullmatch(outputs["image_uri"]), outputs["image_uri"]


def test_the_repository_scans_pushes_and_keeps_enough_history(mocks, resolve):
    build(mocks, resolve)
    repository = mocks.resource("aws:ecr/repository:Repository", "img-repository")
    assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repository.inputs["forceDelete"] is False

    lifecycle = mocks.resource("aws:ecr/lifecyclePolicy:LifecyclePolicy", "img-lifecycle")
    assert lifecycle.inputs["repository"] == repository.outputs["name"]
    (rule,) = json.loads(lifecycle.inputs["policy"])["rules"]
    assert rule["selection"]["countType"] == "imageCountMoreThan"
    assert rule["selection"]["countNumber"] >= 10 == KEEP_IMAGES
    assert rule["selection"]["tagStatus"] == "any"
    assert rule["action"] == {"type": "expire"}


def test_force_delete_is_passed_through(mocks, resolve):
    build(mocks, resolve, force_delete=True)
    repository = mocks.resource("aws:ecr/repository:Repository", "img-repository")
    assert repository.inputs["forceDelete"] is True


def test_a_tagged_digest_becomes_a_plain_digest_reference():
    digest = "sha256:" + "a" * 64
    assert digest_reference("acct.dkr.ecr/r", f"acct.dkr.ecr/r:latest@{digest}") == (
        f"acct.dkr.ecr/r@{digest}"
    )


@pytest.mark.parametrize(
    "repo_digest", ["sha256:" + "b" * 64, "r@sha256:short", "r:latest", "", None]
)
def test_anything_but_a_pushed_digest_is_refused(repo_digest):
    with pytest.raises(ValueError, match="expected a pushed image digest"):
        digest_reference("r", repo_digest)


# A pinned digest (imageUri): deployed as is, nothing built


def test_a_pinned_digest_of_this_repository_is_used_as_is(mocks, resolve):
    pinned = f"{repository_url('iris-dev')}@sha256:{'e' * 64}"
    outputs = build(mocks, resolve, pinned_image_uri=pinned)
    assert outputs["image_uri"] == pinned
    assert not mocks.of_type("docker:index/image:Image")
    mocks.resource("aws:ecr/repository:Repository", "img-repository")
    lifecycle = mocks.resource("aws:ecr/lifecyclePolicy:LifecyclePolicy", "img-lifecycle")
    (rule,) = json.loads(lifecycle.inputs["policy"])["rules"]
    assert rule["selection"]["countNumber"] == KEEP_IMAGES


def test_a_pinned_digest_of_another_repository_is_refused(mocks, resolve):
    other = f"{repository_url('someone-elses-repository')}@sha256:{'e' * 64}"
    with pytest.raises(ValueError, match="is not in this stack's ECR repository"):
        build(mocks, resolve, pinned_image_uri=other)


@pytest.mark.parametrize(
    "image_uri",
    [
        "acct.dkr.ecr.r.amazonaws.com/other@sha256:" + "a" * 64,
        "acct.dkr.ecr.r.amazonaws.com/repo-suffix@sha256:" + "a" * 64,
        "other.dkr.ecr.r.amazonaws.com/repo@sha256:" + "a" * 64,
        "sha256:" + "a" * 64,
    ],
)
def test_pinned_references_must_name_this_repository(image_uri):
    with pytest.raises(ValueError) as caught:
        pinned_reference("acct.dkr.ecr.r.amazonaws.com/repo", image_uri)
    message = str(caught.value)
    assert f"imageUri={image_uri!r} is not in this stack's ECR repository" in message
    assert "expected acct.dkr.ecr.r.amazonaws.com/repo@sha256:" in message


def test_a_pinned_reference_of_this_repository_is_kept():
    image_uri = "acct.dkr.ecr.r.amazonaws.com/repo@sha256:" + "a" * 64
    assert pinned_reference("acct.dkr.ecr.r.amazonaws.com/repo", image_uri) == image_uri
