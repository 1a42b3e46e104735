"""Fixtures shared by several service test modules (defined beside the tests that introduced them)."""

from tests.fakes.s3_server import s3_server  # noqa: F401
from tests.services.test_chat_files_routes import base  # noqa: F401
from tests.services.test_knowledge import embeddings, llm  # noqa: F401
from tests.services.test_tenancy import app_conn, owner_conn  # noqa: F401
from tests.services.test_turns import no_server_providers  # noqa: F401
