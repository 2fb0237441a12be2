"""Content-Security-Policy header on every response (Django 5.2 has none built in).

The policy allows only this site's own scripts: no inline or eval'd JavaScript. The
viewer (Cornerstone3D, static/build) needs three exceptions, each narrow:
- 'wasm-unsafe-eval': its image codecs (OpenJPEG, CharLS, libjpeg-turbo) are WebAssembly;
  this allows compiling wasm only, not JavaScript eval;
- worker-src blob:: the decode workers are started from blob: URLs;
- img-src/connect-src data: blob:: previews and decoded frames travel as data/blob URLs.
Styles allow 'unsafe-inline' because the opinion bars are sized with style attributes
and the viewer sets element styles; styles cannot run code.
"""

from __future__ import annotations

from django.conf import settings

HEADER = "Content-Security-Policy"


def policy_header(policy: dict[str, list[str]]) -> str:
    return "; ".join(f"{name} {' '.join(values)}".strip() for name, values in policy.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", None)
        self.value = policy_header(policy) if policy else ""
        self.header = (
            "Content-Security-Policy-Report-Only"
            if getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", False)
            else HEADER
        )

    def __call__(self, request):
        response = self.get_response(request)
        # A view may set its own, stricter policy; it is kept.
        if self.value and self.header not in response:
            response[self.header] = self.value
        return response
