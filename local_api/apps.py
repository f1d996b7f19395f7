"""The repository's programs as the local API serves them: IRIS and SpendSense.

Each names its Pulumi project (for the stack's settings), its route table (the stack's own,
`iris_infra.apps.iris.routes` and `iris_infra.apps.spendsense.routes`), the entry point of each
function the table reaches, its authorizer, and what the stack adds to the functions'
environment.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from iris_infra.apps.iris import routes as iris_routes
from iris_infra.apps.spendsense import routes as spendsense_routes
from iris_infra.components.routes import Route
from local_api import IRIS_TASK_ROOT, PROJECT_DIR, SPENDSENSE_TASK_ROOT
from local_api.cors import CorsPolicy
from local_api.gateway import LambdaHandler, LocalHttpApi
from local_api.stack import IRIS_NAMESPACE

SPENDSENSE_DIR = PROJECT_DIR / "spendsense"
SAMPLE_DATABASE = SPENDSENSE_DIR / "data" / "spendsense.db"
SPENDSENSE_S3_VARIABLES = ("SPENDSENSE_DB_BUCKET", "SPENDSENSE_DB_KEY", "SPENDSENSE_DB_VERSION")


class SetupError(ValueError):
    """The functions cannot start with this environment; the message says what to change."""


@dataclass(frozen=True)
class LocalApp:
    name: str
    # Prefix of the local function names, e.g. "iris" -> "iris-local-api".
    slug: str
    project_dir: Path
    namespace: str
    task_root: Path
    # The variables the authorizer reads its keys from: the keys, or their SSM parameter.
    key_variables: tuple[str, ...]
    # The stack's `deployment` values, its default first; empty for a program of one shape.
    deployments: tuple[str, ...] = ()
    authorizer_module: str = "authorizer"
    # The module with the stack's CORS_* answers: iris_infra.apps.iris.routes or
    # iris_infra.apps.spendsense.routes.
    cors_rules: ModuleType = iris_routes

    def cors(self, origins: tuple[str, ...]) -> CorsPolicy:
        rules = self.cors_rules
        return CorsPolicy(
            allow_origins=origins,
            allow_methods=rules.CORS_ALLOW_METHODS,
            allow_headers=rules.CORS_ALLOW_HEADERS,
            expose_headers=rules.CORS_EXPOSE_HEADERS,
            max_age_seconds=rules.CORS_MAX_AGE_SECONDS,
        )

    def routes(self, deployment: str | None) -> tuple[Route, ...]:
        raise NotImplementedError

    def entry_points(self, deployment: str | None) -> dict[str, str]:
        """Function key -> the module whose `handler` is that function's entry point."""
        raise NotImplementedError

    def function_environment(self, environ: Mapping[str, str]) -> dict[str, str]:
        """What the stack adds to its functions' environment for these settings."""
        return {}

    def describe_setup(self, environ: Mapping[str, str]) -> str:
        """The start-up line's note on the functions' settings; SetupError when they cannot
        start with them."""
        raise NotImplementedError

    def describe_shape(self, deployment: str | None) -> str | None:
        return None

    def load_handler(self, module: str) -> LambdaHandler:
        """The `handler` of `module`, imported from this app's task root."""
        return self._import(module).handler

    def _import(self, module: str) -> ModuleType:
        path = self.task_root.joinpath(*module.split(".")).with_suffix(".py")
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin and Path(spec.origin).resolve() == path.resolve():
            return importlib.import_module(module)
        # Deployed, each task root has containers of its own; here both share one sys.path,
        # and a module name both have is loaded from this root's file under a name of its own.
        alias = f"{self.slug}_task_root.{module}"
        if alias in sys.modules:
            return sys.modules[alias]
        own = importlib.util.spec_from_file_location(alias, path)
        if own is None or own.loader is None or not path.is_file():
            raise ImportError(f"{self.task_root} has no module {module}")
        loaded = importlib.util.module_from_spec(own)
        sys.modules[alias] = loaded
        try:
            own.loader.exec_module(loaded)
        except BaseException:
            del sys.modules[alias]
            raise
        return loaded

    def api_keys_configured(self, environ: Mapping[str, str]) -> bool:
        """Whether the stack's authorizer would guard the API: the same variables it reads."""
        return any(environ.get(name, "").strip() for name in self.key_variables)


class _Iris(LocalApp):
    def routes(self, deployment: str | None) -> tuple[Route, ...]:
        return iris_routes.ROUTES

    def entry_points(self, deployment: str | None) -> dict[str, str]:
        return {iris_routes.API_FUNCTION: "lambda_handler"}

    def function_environment(self, environ: Mapping[str, str]) -> dict[str, str]:
        # With API keys the function checks that the authorizer ran, as deployed.
        return {"IRIS_REQUIRE_AUTHORIZER": "true"} if self.api_keys_configured(environ) else {}

    def describe_setup(self, environ: Mapping[str, str]) -> str:
        from iris.settings import Settings, SettingsError, shown_url

        try:
            settings = Settings.from_env(environ)
        except SettingsError as error:
            raise SetupError(str(error)) from None
        if settings.llm_provider == "offline":
            return "LLM provider: offline"
        # Where analyses will go, so a run pointed at another endpoint shows it did.
        from iris.chat import chat_completions_url

        endpoint = shown_url(chat_completions_url(settings.openai_base_url))
        missing = "" if settings.openai_configured else " (no key: analyze answers 503)"
        return f"LLM provider: openai, model {settings.openai_model} at {endpoint}{missing}"


class _SpendSense(LocalApp):
    def routes(self, deployment: str | None) -> tuple[Route, ...]:
        return spendsense_routes.routes(self._deployment(deployment))

    def entry_points(self, deployment: str | None) -> dict[str, str]:
        return {
            name: "handler" if name == spendsense_routes.API_FUNCTION else f"insights.{name}"
            for name in spendsense_routes.function_names(self._deployment(deployment))
        }

    def function_environment(self, environ: Mapping[str, str]) -> dict[str, str]:
        added = {}
        # With API keys the functions check that the authorizer ran, as deployed.
        if self.api_keys_configured(environ):
            added["SPENDSENSE_REQUIRE_AUTHORIZER"] = "true"
        # The sample database, unless the run names another file or an S3 object version.
        names_data = any(environ.get(name) for name in ("DB_PATH", *SPENDSENSE_S3_VARIABLES))
        if not names_data:
            added["DB_PATH"] = str(SAMPLE_DATABASE)
        return added

    def describe_setup(self, environ: Mapping[str, str]) -> str:
        if any(environ.get(name) for name in SPENDSENSE_S3_VARIABLES):
            bucket, key, version = (environ.get(name, "") for name in SPENDSENSE_S3_VARIABLES)
            return f"database: s3://{bucket}/{key} version {version or '(unset)'}"
        path = Path(environ.get("DB_PATH") or SAMPLE_DATABASE)
        if not path.is_file():
            if path == SAMPLE_DATABASE:
                raise SetupError(
                    f"the sample database {path} does not exist: run `make spendsense-db` to "
                    "write it, or set DB_PATH to another SpendSense database"
                )
            raise SetupError(
                f"DB_PATH={str(path)!r} is not a file: set it to a SpendSense database, or "
                f"unset it for the sample database (`make spendsense-db` writes it)"
            )
        return f"database: {path}"

    def describe_shape(self, deployment: str | None) -> str:
        count = len(self.entry_points(deployment))
        return f"shape {self._deployment(deployment)} ({count} function{'s' * (count > 1)})"

    def _deployment(self, deployment: str | None) -> str:
        return self.deployments[0] if deployment is None else deployment


IRIS = _Iris(
    name="IRIS",
    slug="iris",
    project_dir=PROJECT_DIR,
    namespace=IRIS_NAMESPACE,
    task_root=IRIS_TASK_ROOT,
    key_variables=("IRIS_API_KEYS", "IRIS_API_KEYS_PARAM"),
)
SPENDSENSE = _SpendSense(
    name="SpendSense",
    slug="spendsense",
    project_dir=SPENDSENSE_DIR,
    namespace="spendsense-infra",
    task_root=SPENDSENSE_TASK_ROOT,
    key_variables=("SPENDSENSE_API_KEYS", "SPENDSENSE_API_KEYS_PARAM"),
    cors_rules=spendsense_routes,
    deployments=spendsense_routes.DEPLOYMENTS,
)
APPS: dict[str, LocalApp] = {"iris": IRIS, "spendsense": SPENDSENSE}


def build_api(
    app: LocalApp,
    cors_origins: tuple[str, ...],
    environ: Mapping[str, str],
    deployment: str | None = None,
) -> LocalHttpApi:
    """The local API around the app's real Lambda handlers (and its real authorizer when keys
    are set), one per function of the stack's shape.

    Importing a handler builds its app from the environment, as a cold start does.
    """
    functions = {
        key: app.load_handler(module) for key, module in app.entry_points(deployment).items()
    }
    authorizer = None
    if app.api_keys_configured(environ):
        authorizer = app.load_handler(app.authorizer_module)
    return LocalHttpApi(
        app.routes(deployment),
        functions,
        app.cors(cors_origins),
        authorizer,
        function_names={key: f"{app.slug}-local-{key.replace('_', '-')}" for key in functions},
        authorizer_name=f"{app.slug}-local-authorizer",
    )
