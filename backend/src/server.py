"""The module-level Flask `app` that Lambda's handler and `flask run` both serve."""

from __future__ import annotations

from iris.app import create_app
from iris.settings import Settings

app = create_app(Settings.from_env())

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8000)
