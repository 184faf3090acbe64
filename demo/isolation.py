"""Cross-origin isolation for the page: the headers that let onnxruntime-web run the U-Net on several threads.

WASM threads share memory (SharedArrayBuffer), which a browser allows only on a cross-origin isolated page: its
response and its resources' carry Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy. The
embedder policy is `credentialless`, not `require-corp`, so that resources from other origins that a page may still
load (a Space's own, say) load without credentials instead of being blocked. Without isolation, as in a Space shown
inside its hub page, the page's sampler runs on one thread."""
from __future__ import annotations

from starlette.middleware import Middleware

HEADERS = [(b"cross-origin-opener-policy", b"same-origin"), (b"cross-origin-embedder-policy", b"credentialless")]


class CrossOriginIsolation:
    """ASGI middleware adding HEADERS to every HTTP response (streamed ones too, unlike Starlette's BaseHTTPMiddleware)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_isolated(message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in HEADERS if h[0] not in names)]
            await send(message)

        await self.app(scope, receive, send_isolated)


def app_kwargs() -> dict:
    """Gradio's launch(app_kwargs=...) for an isolated page: its FastAPI app with this middleware."""
    return {"middleware": [Middleware(CrossOriginIsolation)]}
