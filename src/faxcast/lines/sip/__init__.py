"""SIP trunk lines: real fax calls over SIP with the fax engine on RTP or T.38 (issue 14)."""
