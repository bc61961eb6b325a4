"""``cf-playground doctor``: which layer of the chain to the playground works, and which broke.

The playground is a web site, not an API with a contract: its wire format and its edge change
without notice. The doctor checks each layer in turn (name, TCP, TLS, the page, each transport
rung, the wire format, the model list, one chat, the session cache) and says what to do about
the first failure. It starts a browser only where a chat would: when the edge refuses the rung
below it.

- ``records``: what a check returns (:class:`Check`, a verdict and why) and the whole
  :class:`Diagnosis`, which picks the advice.
- ``network``: the checks that talk to the site, one function per layer.
- ``cache``: the session cache check (a file on disk; names of cookies only, never values).
- ``run``: :func:`diagnose`, which runs them in order.
- ``report``: the diagnosis as text or as one JSON object, with every secret scrubbed.
"""

from langchain_cloudflare_playground.doctor.records import Check, Diagnosis, Verdict
from langchain_cloudflare_playground.doctor.report import as_json, as_text
from langchain_cloudflare_playground.doctor.run import DoctorSettings, diagnose

__all__ = ["Check", "Diagnosis", "DoctorSettings", "Verdict", "as_json", "as_text", "diagnose"]
