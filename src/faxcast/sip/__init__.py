"""SIP over UDP for fax calls, RTP and UDPTL (T.38) beside it.

Signalling, inside out: `uri` and `message` (parsing), `sdp` (G.711 and T.38 streams), `digest`,
`transport` (UDP), `transaction` (RFC 3261 timers), `dialog` (`Call`), `incoming`
(`IncomingCall`), `ua` (`UserAgent`), `register` (REGISTER and the line probe); `status` maps
final responses to failure classes.
"""
