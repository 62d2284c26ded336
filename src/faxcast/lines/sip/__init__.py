"""SIP trunk lines: real fax calls over SIP with the fax engine on RTP or T.38 (issue 14).

`line.SipLine` is the `sip` line driver; `session.MediaSession` is the offer/answer glue both
ends of a call share (the driver and the phone network); `media.FaxMedia` runs the fax.
"""
