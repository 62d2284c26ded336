"""The sandbox fax network: every number is answered by a simulated machine on the real engine.

Fax calls are real T.30 exchanges between two SpanDSP ends, over G.711 audio or T.38 packets;
only the clock is ours. The documented test numbers (faxcast.lines.testnumbers) give busy, no
answer, voice, dropped and noisy-line outcomes; everything else reaches a healthy fax machine.
One SandboxNetwork serves every sandbox line; each line has its own driver, a SandboxLine.
"""

from faxcast.lines.sandbox.line import SandboxLine
from faxcast.lines.sandbox.network import SandboxNetwork

__all__ = ["SandboxLine", "SandboxNetwork"]
