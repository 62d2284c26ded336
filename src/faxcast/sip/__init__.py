"""SIP over UDP: messages, SDP, transactions, dialogs, RTP and UDPTL (T.38)."""
